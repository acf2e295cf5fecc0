"""`/api/users` through real HTTP."""

from __future__ import annotations

import uuid

from tests.live import Live, error_code


class TestGetMe:
    def test_shape(self, live: Live) -> None:
        user = live.register()
        me = live.data(live.get("/api/users/me", user))
        assert me["id"] == user.id and me["email"] == user.email
        assert me["status"] == "online" and me["flags"] == 0 and me["bio"] is None
        assert me["createdAt"].endswith("Z")

    def test_anonymous_and_bad_tokens(self, live: Live) -> None:
        assert live.get("/api/users/me").status_code == 401
        bad = live.get("/api/users/me", headers={"Authorization": "Bearer not.a.jwt"})
        assert bad.status_code == 401 and error_code(bad) == "UNAUTHORIZED"
        wrong_scheme = live.get("/api/users/me", headers={"Authorization": "Basic abc"})
        assert wrong_scheme.status_code == 401


class TestUpdateMe:
    def test_updates_fields(self, live: Live) -> None:
        user = live.register()
        new_name = f"n{uuid.uuid4().hex[:8]}"
        data = live.data(
            live.patch(
                "/api/users/me",
                user,
                json={"username": new_name, "bio": "hello", "status": "dnd"},
            )
        )
        assert (data["username"], data["bio"], data["status"]) == (new_name, "hello", "dnd")
        assert live.data(live.get("/api/users/me", user))["username"] == new_name

    def test_limits_and_conflicts(self, live: Live) -> None:
        user, other = live.register(), live.register()
        long_bio = live.patch("/api/users/me", user, json={"bio": "x" * 501})
        assert long_bio.status_code == 400 and error_code(long_bio) == "VALIDATION_ERROR"
        bad_status = live.patch("/api/users/me", user, json={"status": "asleep"})
        assert bad_status.status_code == 400
        taken = live.patch("/api/users/me", user, json={"username": other.username.upper()})
        assert taken.status_code == 409 and error_code(taken) == "ALREADY_EXISTS"
        wrong_type = live.patch("/api/users/me", user, json={"bio": 5})
        assert wrong_type.status_code == 400
        # Nothing of the refused requests was written.
        assert live.data(live.get("/api/users/me", user))["bio"] is None


class TestGetUser:
    def test_profile_with_mutual_servers(self, live: Live) -> None:
        alice, bob = live.register(), live.register()
        profile = live.data(live.get(f"/api/users/{bob.id}", alice))
        assert profile["id"] == bob.id and profile["mutualServers"] == []
        assert "email" not in profile

    def test_invisible_shows_offline(self, live: Live) -> None:
        alice, bob = live.register(), live.register()
        live.patch("/api/users/me", bob, json={"status": "invisible"})
        assert live.data(live.get(f"/api/users/{bob.id}", alice))["status"] == "offline"

    def test_unknown_and_malformed_ids(self, live: Live) -> None:
        alice = live.register()
        for bad in ("1", "abc", "99999999999999999999999", "-5"):
            response = live.get(f"/api/users/{bad}", alice)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


class TestSearchUsers:
    def test_prefix_search_with_paging(self, live: Live) -> None:
        stem = f"s{uuid.uuid4().hex[:6]}"
        searcher = live.register()
        for i in range(3):
            live.register(f"{stem}{i}")
        first = live.data(live.get(f"/api/users/search?q={stem.upper()}&limit=2", searcher))
        assert first["total"] == 3 and first["hasMore"] is True and len(first["users"]) == 2
        rest = live.data(live.get(f"/api/users/search?q={stem}&limit=2&offset=2", searcher))
        assert rest["hasMore"] is False and [u["username"] for u in rest["users"]] == [f"{stem}2"]

    def test_wildcards_are_literal(self, live: Live) -> None:
        searcher = live.register()
        found = live.data(live.get("/api/users/search?q=%25", searcher))
        assert found["total"] == 0

    def test_limit_range(self, live: Live) -> None:
        searcher = live.register()
        assert live.get("/api/users/search?q=a&limit=51", searcher).status_code == 400
        assert live.get("/api/users/search", searcher).status_code == 400
