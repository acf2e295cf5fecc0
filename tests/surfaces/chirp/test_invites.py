"""`/api/…/invites` through real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest

from gossip.invites import service as invites_service
from gossip.kit.permissions import DEFAULT_EVERYONE_PERMISSIONS, Permission
from gossip.kit.timefmt import utcnow
from tests.live import Live, User, error_code


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def invite(live: Live, user: User, server_id: str, **body: object) -> dict[str, object]:
    data: dict[str, object] = live.data(
        live.post(f"/api/servers/{server_id}/invites", user, json=body), 201
    )
    return data


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Moves the invites' clock forward (the test server runs in this process)."""
    moment = utcnow() + timedelta(seconds=seconds)
    monkeypatch.setattr(invites_service, "utcnow", lambda: moment)


def channel_of(live: Live, user: User, server_id: str) -> str:
    return str(live.data(live.get(f"/api/servers/{server_id}/channels", user))[0]["id"])


def restrict_everyone(live: Live, owner: User, server_id: str, without: Permission) -> None:
    live.data(
        live.patch(
            f"/api/servers/{server_id}/roles/{server_id}",
            owner,
            json={"permissions": str(DEFAULT_EVERYONE_PERMISSIONS & ~without)},
        )
    )


class TestCreateInvite:
    def test_defaults(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner, "Invited")
        data = invite(live, owner, server_id)
        assert re.fullmatch(r"[A-Za-z0-9]{8,10}", str(data["code"]))
        assert data["server"] == {
            "id": server_id,
            "name": "Invited",
            "icon": None,
            "memberCount": 1,
        }
        assert (data["uses"], data["maxUses"], data["maxAge"]) == (0, 0, 86400)
        assert data["channelId"] is None and data["inviter"]["id"] == owner.id  # type: ignore[index]
        lifetime = parse(str(data["expiresAt"])) - parse(str(data["createdAt"]))
        assert lifetime == timedelta(days=1)
        assert invite(live, owner, server_id)["code"] != data["code"]

    def test_limits_and_never_expiring(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        data = invite(live, owner, server_id, maxUses=100, maxAge=0)
        assert data["maxUses"] == 100 and data["maxAge"] == 0 and data["expiresAt"] is None
        week = invite(live, owner, server_id, maxAge=604800)
        assert week["maxAge"] == 604800

    def test_for_a_channel(self, live: Live) -> None:
        owner, other = live.register(), live.register()
        server_id = live.create_server(owner)
        channel_id = channel_of(live, owner, server_id)
        data = invite(live, owner, server_id, channelId=channel_id)
        assert data["channelId"] == channel_id
        foreign = channel_of(live, other, live.create_server(other))
        for bad in (foreign, "abc", "1"):
            response = live.post(
                f"/api/servers/{server_id}/invites", owner, json={"channelId": bad}
            )
            assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_validation(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        for body in (
            {"maxUses": -1},
            {"maxUses": 101},
            {"maxAge": -1},
            {"maxAge": 604801},
            {"maxAge": "soon"},
            {"channelId": "1" * 21},
        ):
            response = live.post(f"/api/servers/{server_id}/invites", owner, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        assert live.data(live.get(f"/api/servers/{server_id}/invites", owner)) == []

    def test_needs_create_instant_invite(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        invite(live, member, server_id)  # @everyone may invite by default
        restrict_everyone(live, owner, server_id, Permission.CREATE_INSTANT_INVITE)
        response = live.post(f"/api/servers/{server_id}/invites", member, json={})
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"

    def test_non_member_bad_ids_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.post(f"/api/servers/{server_id}/invites", stranger, json={}).status_code == 404
        assert live.post("/api/servers/abc/invites", owner, json={}).status_code == 404
        assert live.post(f"/api/servers/{server_id}/invites", json={}).status_code == 401


class TestListInvites:
    def test_lists_usable_invites(self, live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        short = invite(live, owner, server_id, maxAge=60)
        forever = invite(live, owner, server_id, maxAge=0)
        single = invite(live, owner, server_id, maxUses=1)
        live.data(live.post(f"/api/invites/{single['code']}", member))
        path = f"/api/servers/{server_id}/invites"
        listed = live.data(live.get(path, owner))
        assert [i["code"] for i in listed] == [short["code"], forever["code"]]
        assert listed[0]["server"]["memberCount"] == 2
        later(monkeypatch, 120)
        assert [i["code"] for i in live.data(live.get(path, owner))] == [forever["code"]]

    def test_needs_manage_guild(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        response = live.get(f"/api/servers/{server_id}/invites", member)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"

    def test_non_member_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.get(f"/api/servers/{server_id}/invites", stranger).status_code == 404
        assert live.get(f"/api/servers/{server_id}/invites").status_code == 401


class TestPreviewInvite:
    def test_public_preview(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner, "Preview me")
        created = invite(live, owner, server_id, maxUses=5)
        data = live.data(live.get(f"/api/invites/{created['code']}"))
        assert data == created

    def test_unknown_used_up_and_expired(self, live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        single = invite(live, owner, server_id, maxUses=1)
        live.data(live.post(f"/api/invites/{single['code']}", member))
        short = invite(live, owner, server_id, maxAge=30)
        for code in ("doesnotexist", "x" * 40, single["code"]):
            response = live.get(f"/api/invites/{code}")
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert live.get(f"/api/invites/{short['code']}").status_code == 200
        later(monkeypatch, 31)
        assert live.get(f"/api/invites/{short['code']}").status_code == 404


class TestAcceptInvite:
    def test_joins_and_counts_a_use(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner, "Joinable")
        code = invite(live, owner, server_id)["code"]
        server = live.data(live.post(f"/api/invites/{code}", member))
        assert server["id"] == server_id and server["name"] == "Joinable"
        assert server["permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS)
        assert server["memberCount"] == 2 and server["joinedAt"].endswith("Z")
        assert live.data(live.get(f"/api/invites/{code}"))["uses"] == 1
        # A member using it again changes nothing and costs no use.
        live.data(live.post(f"/api/invites/{code}", member))
        assert live.data(live.get(f"/api/invites/{code}"))["uses"] == 1
        assert [s["id"] for s in live.data(live.get("/api/servers", member))] == [server_id]

    def test_max_uses(self, live: Live) -> None:
        owner, first, second = live.register(), live.register(), live.register()
        server_id = live.create_server(owner)
        code = invite(live, owner, server_id, maxUses=1)["code"]
        live.data(live.post(f"/api/invites/{code}", first))
        response = live.post(f"/api/invites/{code}", second)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert live.get(f"/api/servers/{server_id}", second).status_code == 404

    def test_last_use_goes_to_exactly_one_of_many(self, live: Live) -> None:
        owner = live.register()
        users = [live.register() for _ in range(8)]
        server_id = live.create_server(owner)
        code = invite(live, owner, server_id, maxUses=1)["code"]

        def accept(user: User) -> int:
            with httpx.Client(timeout=30) as client:
                return client.post(
                    f"{live.url}/api/invites/{code}", headers=user.headers
                ).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = sorted(pool.map(accept, users))
        assert statuses == [200] + [404] * 7
        server = live.data(live.get(f"/api/servers/{server_id}", owner))
        assert server["memberCount"] == 2

    def test_same_user_accepting_concurrently_joins_once(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        code = invite(live, owner, server_id)["code"]

        def accept(_: int) -> int:
            with httpx.Client(timeout=30) as client:
                url = f"{live.url}/api/invites/{code}"
                return client.post(url, headers=member.headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(accept, range(8))) == [200] * 8
        assert live.data(live.get(f"/api/invites/{code}"))["uses"] == 1
        assert live.data(live.get(f"/api/servers/{server_id}", owner))["memberCount"] == 2

    def test_expired(self, live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        code = invite(live, owner, server_id, maxAge=10)["code"]
        later(monkeypatch, 11)
        assert live.post(f"/api/invites/{code}", member).status_code == 404

    def test_at_registration(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        code = str(invite(live, owner, server_id)["code"])
        newcomer = live.register(invite=code)
        assert [s["id"] for s in live.data(live.get("/api/servers", newcomer))] == [server_id]

    def test_banned_user_is_403(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.data(live.put(f"/api/servers/{server_id}/bans/{member.id}", owner), 201)
        code = invite(live, owner, server_id)["code"]
        response = live.post(f"/api/invites/{code}", member)
        assert response.status_code == 403 and error_code(response) == "BANNED"
        assert live.data(live.get(f"/api/invites/{code}"))["uses"] == 0

    def test_unknown_and_anonymous(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        code = invite(live, owner, server_id)["code"]
        assert live.post("/api/invites/nothing", member).status_code == 404
        assert live.post(f"/api/invites/{code}").status_code == 401


class TestDeleteInvite:
    def test_inviter_deletes_own_without_manage_guild(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        code = invite(live, member, server_id)["code"]
        assert live.data(live.delete(f"/api/invites/{code}", member)) is None
        assert live.get(f"/api/invites/{code}").status_code == 404

    def test_manager_deletes_others_even_expired(
        self, live: Live, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        code = invite(live, member, server_id, maxAge=5)["code"]
        later(monkeypatch, 10)
        assert live.data(live.delete(f"/api/invites/{code}", owner)) is None
        monkeypatch.undo()
        assert live.get(f"/api/invites/{code}").status_code == 404

    def test_member_without_manage_guild_is_403(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        code = invite(live, owner, server_id)["code"]
        response = live.delete(f"/api/invites/{code}", member)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert live.get(f"/api/invites/{code}").status_code == 200

    def test_non_member_unknown_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        code = invite(live, owner, server_id)["code"]
        assert live.delete(f"/api/invites/{code}", stranger).status_code == 404
        assert live.delete("/api/invites/unknown", owner).status_code == 404
        assert live.delete(f"/api/invites/{code}").status_code == 401
        assert live.get(f"/api/invites/{code}").status_code == 200
