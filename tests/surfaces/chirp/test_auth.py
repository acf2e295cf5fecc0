"""`/api/auth` through real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from tests.live import Live, error_code


class TestRegister:
    def test_returns_user_and_tokens(self, live: Live) -> None:
        name = f"reg{uuid.uuid4().hex[:8]}"
        response = live.post(
            "/api/auth/register",
            json={"username": name, "email": f"{name}@Example.com", "password": "hunter2hunter2"},
        )
        body = response.json()
        assert response.status_code == 201
        assert body["success"] is True and body["timestamp"].endswith("Z")
        user = body["data"]["user"]
        assert user["username"] == name
        assert user["email"] == f"{name}@example.com"
        assert user["avatar"] is None and user["id"].isdigit()
        me = live.get("/api/users/me", headers={"Authorization": f"Bearer {body['data']['token']}"})
        assert live.data(me)["id"] == user["id"]

    def test_duplicate_email_and_username_conflict(self, live: Live) -> None:
        user = live.register()
        again = live.post(
            "/api/auth/register",
            json={
                "username": "other" + user.username[:8],
                "email": user.email,
                "password": "x" * 8,
            },
        )
        assert again.status_code == 409 and error_code(again) == "ALREADY_EXISTS"
        upper = live.post(
            "/api/auth/register",
            json={
                "username": user.username.upper(),
                "email": f"new{user.email}",
                "password": "x" * 8,
            },
        )
        assert upper.status_code == 409

    def test_validation_names_each_field(self, live: Live) -> None:
        response = live.post(
            "/api/auth/register", json={"username": "ab", "email": "nope", "password": "short"}
        )
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
        fields = {d["field"] for d in response.json()["error"]["details"]}
        assert fields == {"username", "email", "password"}

    def test_malformed_json_is_a_validation_error(self, live: Live) -> None:
        response = live.post(
            "/api/auth/register",
            content=b'{"username": ',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_oversized_body_is_413(self, live: Live) -> None:
        response = live.post(
            "/api/auth/register",
            content=b"{" + b" " * (live.settings.max_body_bytes + 10) + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413 and error_code(response) == "VALIDATION_ERROR"


class TestLogin:
    def test_login_with_right_password(self, live: Live) -> None:
        user = live.register()
        data = live.data(
            live.post("/api/auth/login", json={"email": user.email, "password": user.password})
        )
        assert data["user"]["id"] == user.id and data["token"]

    def test_wrong_password_and_unknown_email_look_the_same(self, live: Live) -> None:
        user = live.register()
        wrong = live.post("/api/auth/login", json={"email": user.email, "password": "wrong-pass"})
        unknown = live.post(
            "/api/auth/login", json={"email": "nobody@example.com", "password": "wrong-pass"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


class TestRefresh:
    def test_rotates_and_detects_reuse(self, live: Live) -> None:
        user = live.register()
        first = live.data(
            live.post("/api/auth/refresh", headers={"Authorization": f"Bearer {user.refresh}"})
        )
        assert first["refreshToken"] != user.refresh
        assert live.get("/api/users/me", headers={"Authorization": f"Bearer {first['token']}"})
        # The old refresh token comes back: the whole family is revoked.
        reuse = live.post("/api/auth/refresh", headers={"Authorization": f"Bearer {user.refresh}"})
        assert reuse.status_code == 401
        after = live.post(
            "/api/auth/refresh", headers={"Authorization": f"Bearer {first['refreshToken']}"}
        )
        assert after.status_code == 401
        me = live.get("/api/users/me", headers={"Authorization": f"Bearer {first['token']}"})
        assert me.status_code == 401

    def test_garbage_refresh_token(self, live: Live) -> None:
        response = live.post("/api/auth/refresh", headers={"Authorization": "Bearer 12.abc"})
        assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"


class TestLogout:
    def test_revokes_access_token(self, live: Live) -> None:
        user = live.register()
        assert live.post("/api/auth/logout", user).status_code == 200
        assert live.get("/api/users/me", user).status_code == 401
        refresh = live.post(
            "/api/auth/refresh", headers={"Authorization": f"Bearer {user.refresh}"}
        )
        assert refresh.status_code == 401

    def test_requires_token(self, live: Live) -> None:
        response = live.post("/api/auth/logout")
        assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"
