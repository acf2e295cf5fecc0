"""`/api/admin`: statistics, disabling accounts and the platform audit log, for
administrators (`gossip create-admin`) and holders of the admin key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gossip.admin.service import human_size
from tests.gateway.client import connect_as
from tests.live import Live, User, error_code, live_server
from tests.surfaces.chirp.admins import make_admin
from tests.surfaces.chirp.chat import room, send

KEY = "an admin key of the operator's, long enough"
KEY_HEADER = {"X-Admin-Key": KEY}


@pytest.fixture(scope="module")
def admin_live(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server of this module's own: an admin key, and an admin limit these tests fit in."""
    tmp: Path = tmp_path_factory.mktemp(f"admin-{backend}")
    with live_server(backend, tmp, admin_key=KEY, rate_limit_admin="10000/900") as server:
        yield server


@pytest.fixture(scope="module")
def admin(admin_live: Live) -> User:
    return make_admin(admin_live, admin_live.register())


def stats(live: Live, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = live.data(live.get("/api/admin/stats", **kw))
    return data


def figures(data: dict[str, Any]) -> dict[str, int]:
    return {
        f"{section}.{name}": value
        for section, values in data.items()
        for name, value in values.items()
        if isinstance(value, int)
    }


class TestStats:
    def test_every_field_of_the_spec(self, admin_live: Live, admin: User) -> None:
        data = stats(admin_live, user=admin)
        assert set(data) == {"users", "servers", "messages", "storage"}
        assert {"total", "activeToday", "newThisMonth"} <= set(data["users"])
        assert {"total", "activeToday"} <= set(data["servers"])
        assert {"today", "thisWeek"} <= set(data["messages"])
        assert {"totalUsed", "filesTotal"} <= set(data["storage"])
        assert re.fullmatch(r"\d+ B|\d+\.\d (KB|MB|GB|TB)", data["storage"]["totalUsed"])
        assert isinstance(data["storage"]["filesTotal"], int)
        assert data["users"]["total"] >= 1 and data["users"]["activeToday"] >= 1

    def test_figures_follow_what_happens(self, admin_live: Live, admin: User) -> None:
        day = datetime.now(UTC).date()
        before = figures(stats(admin_live, user=admin))
        newcomer = admin_live.register()  # a new account, and a login today
        server_id = admin_live.create_server(newcomer)
        quiet = admin_live.create_server(newcomer, "quiet")  # no message: not active
        general = admin_live.data(admin_live.get(f"/api/servers/{server_id}/channels", newcomer))
        send(admin_live, newcomer, general[0]["id"], "one")
        send(admin_live, newcomer, general[0]["id"], "two")
        hook = admin_live.post(
            f"/api/channels/{general[0]['id']}/webhooks", newcomer, json={"name": "CI"}
        )
        hook_data = admin_live.data(hook, 201)
        admin_live.data(
            admin_live.post(
                f"/api/webhooks/{hook_data['id']}/{hook_data['token']}", json={"content": "3"}
            ),
            201,
        )
        after = figures(stats(admin_live, user=admin))
        if datetime.now(UTC).date() != day:
            pytest.skip("midnight UTC passed during the test")
        delta = {key: after[key] - before[key] for key in before}
        assert delta == {
            "users.total": 1,
            "users.activeToday": 1,  # the webhook's message counts no person
            "users.newThisMonth": 1,
            "servers.total": 2,
            "servers.activeToday": 1,
            "messages.today": 3,
            "messages.thisWeek": 3,
            "storage.filesTotal": 0,
            "storage.totalBytes": 0,
        }
        assert quiet

    def test_human_sizes(self) -> None:
        assert human_size(0) == "0 B"
        assert human_size(1023) == "1023 B"
        assert human_size(1024) == "1.0 KB"
        assert human_size(int(10.5 * 1024**3)) == "10.5 GB"
        assert human_size(3 * 1024**5) == "3072.0 TB"


class TestAdminAccess:
    def test_key(self, admin_live: Live) -> None:
        assert stats(admin_live, headers=KEY_HEADER)["users"]["total"] >= 0
        wrong = admin_live.get("/api/admin/stats", headers={"X-Admin-Key": KEY + "x"})
        assert wrong.status_code == 401 and error_code(wrong) == "UNAUTHORIZED"
        assert admin_live.get("/api/admin/stats", headers={"X-Admin-Key": ""}).status_code == 401

    def test_unset_key_accepts_nothing(self, live: Live) -> None:
        for key in ("", "x", KEY, "None"):
            response = live.get("/api/admin/stats", headers={"X-Admin-Key": key})
            assert response.status_code == 401, key

    def test_accounts(self, admin_live: Live, admin: User) -> None:
        assert admin_live.get("/api/admin/stats").status_code == 401
        someone = admin_live.register()
        refused = admin_live.get("/api/admin/stats", someone)
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
        assert admin_live.get("/api/admin/stats", admin).status_code == 200

    def test_admin_rate_limit(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, admin_key=KEY, rate_limit_admin="2/900") as server:
            # Wrong keys count too: the key cannot be guessed faster than the limit.
            for _ in range(2):
                bad = server.get("/api/admin/stats", headers={"X-Admin-Key": "guess" * 4})
                assert bad.status_code == 401
            limited = server.get("/api/admin/stats", headers=KEY_HEADER)
            assert limited.status_code == 429
            error = limited.json()["error"]
            assert error["code"] == "RATE_LIMITED" and 0 < error["retryAfter"] <= 900_000
            assert limited.headers["X-RateLimit-Bucket"] == "admin"
            # Accounts have their own count.
            admin = make_admin(server, server.register())
            assert server.get("/api/admin/stats", admin).status_code == 200
            assert server.get("/api/admin/audit-log", admin).status_code == 200
            assert server.get("/api/admin/stats", admin).status_code == 429


class TestSetDisabled:
    def test_disable_refuses_everywhere_and_enable_restores(
        self, admin_live: Live, admin: User
    ) -> None:
        user = admin_live.register()
        socket = connect_as(admin_live, user)
        path = f"/api/admin/users/{user.id}"
        try:
            account = admin_live.data(admin_live.patch(path, admin, json={"disabled": True}))
            assert account["disabled"] is True and account["id"] == user.id
            assert socket.close_code() == 4004  # open sockets close at once
        finally:
            socket.close()
        me = admin_live.get("/api/users/me", user)
        assert me.status_code == 403 and error_code(me) == "ACCOUNT_DISABLED"
        login = {"email": user.email, "password": user.password}
        refused = admin_live.post("/api/auth/login", json=login)
        assert refused.status_code == 403 and error_code(refused) == "ACCOUNT_DISABLED"
        refresh = admin_live.post(
            "/api/auth/refresh", headers={"Authorization": f"Bearer {user.refresh}"}
        )
        assert refresh.status_code == 403
        account = admin_live.data(admin_live.patch(path, admin, json={"disabled": False}))
        assert account["disabled"] is False
        # A suspension: the account's logins work again.
        assert admin_live.get("/api/users/me", user).status_code == 200
        assert admin_live.post("/api/auth/login", json=login).status_code == 200

    def test_with_the_key_and_idempotent(self, admin_live: Live) -> None:
        user = admin_live.register()
        path = f"/api/admin/users/{user.id}"
        for _ in range(2):
            response = admin_live.patch(path, headers=KEY_HEADER, json={"disabled": True})
            assert admin_live.data(response)["disabled"] is True

    def test_refusals(self, admin_live: Live, admin: User) -> None:
        user = admin_live.register()
        body = {"disabled": True}
        assert admin_live.patch(f"/api/admin/users/{user.id}", user, json=body).status_code == 403
        assert admin_live.patch(f"/api/admin/users/{user.id}", json=body).status_code == 401
        myself = admin_live.patch(f"/api/admin/users/{admin.id}", admin, json=body)
        assert myself.status_code == 400
        for missing in ("123", "abc", "4194304"):  # 4194304: the reserved webhook author
            response = admin_live.patch(f"/api/admin/users/{missing}", admin, json=body)
            assert response.status_code == 404, missing
        for bad in ({}, {"disabled": "maybe"}, {"disabled": None}):
            response = admin_live.patch(f"/api/admin/users/{user.id}", admin, json=bad)
            assert response.status_code == 400, bad
        assert admin_live.get("/api/users/me", user).status_code == 200


class TestAdminAuditLog:
    def test_every_server_with_filters(self, admin_live: Live, admin: User) -> None:
        one, two = room(admin_live), room(admin_live)
        made_one = admin_live.create_role(one.owner, one.server_id, name="r1")
        made_two = admin_live.create_role(two.owner, two.server_id, name="r2")

        def log(query: str = "") -> list[dict[str, Any]]:
            data: list[dict[str, Any]] = admin_live.data(
                admin_live.get(f"/api/admin/audit-log{query}", admin)
            )
            return data

        newest = log("?limit=2")
        assert [e["targetId"] for e in newest] == [made_two["id"], made_one["id"]]
        assert {e["serverId"] for e in newest} == {one.server_id, two.server_id}
        only_one = log(f"?serverId={one.server_id}&action=ROLE_CREATE")
        assert [e["targetId"] for e in only_one] == [made_one["id"]]
        by_two = log(f"?userId={two.owner.id}")
        assert {e["serverId"] for e in by_two} == {two.server_id}
        older = log(f"?before={newest[0]['id']}&limit=1")
        assert older[0]["id"] == newest[1]["id"]
        for bad in ("?action=nope", "?limit=0", "?serverId=x", "?limit=101"):
            assert admin_live.get(f"/api/admin/audit-log{bad}", admin).status_code == 400

    def test_account_switches_are_audited(self, admin_live: Live, admin: User) -> None:
        user = admin_live.register()
        path = f"/api/admin/users/{user.id}"
        admin_live.data(admin_live.patch(path, admin, json={"disabled": True}))
        admin_live.data(admin_live.patch(path, headers=KEY_HEADER, json={"disabled": False}))
        entries = admin_live.data(
            admin_live.get("/api/admin/audit-log?limit=2", headers=KEY_HEADER)
        )
        assert [(e["action"], e["userId"], e["targetId"], e["serverId"]) for e in entries] == [
            ("USER_ENABLE", None, user.id, None),  # the key acts as nobody in particular
            ("USER_DISABLE", admin.id, user.id, None),
        ]

    def test_needs_an_administrator(self, admin_live: Live) -> None:
        r = room(admin_live)
        # VIEW_AUDIT_LOG in a server is not enough for the platform's log.
        assert admin_live.get("/api/admin/audit-log", r.owner).status_code == 403
        assert admin_live.get("/api/admin/audit-log").status_code == 401
