"""The events of server management, as gateway clients receive them: each payload is the
REST representation of the changed object plus `serverId`."""

from __future__ import annotations

from typing import Any

from tests.gateway.client import GatewayClient, connect_as
from tests.live import Live, User


def room(live: Live) -> tuple[User, User, str]:
    """An owner and a member of one server."""
    owner, member = live.register(), live.register()
    server_id = live.create_server(owner)
    live.join(member, server_id, owner)
    return owner, member, server_id


def received(client: GatewayClient, type_: str, **match: Any) -> dict[str, Any]:
    data: dict[str, Any] = client.wait_for(type_, **match)["data"]
    client.close()
    return data


class TestServerEvents:
    def test_server_update(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, member)
        rest = live.data(live.patch(f"/api/servers/{server_id}", owner, json={"name": "New"}))
        event = received(client, "SERVER_UPDATE", id=server_id)
        # The caller's own permissions and join time are not everyone's business.
        expected = {k: v for k, v in rest.items() if k not in ("permissions", "joinedAt")}
        assert event == expected

    def test_server_delete(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, member)
        live.data(live.delete(f"/api/servers/{server_id}", owner))
        assert received(client, "SERVER_DELETE", id=server_id)["serverId"] == server_id


class TestMemberEvents:
    def test_member_add(self, live: Live) -> None:
        owner, _, server_id = room(live)
        newcomer = live.register()
        client = connect_as(live, owner)
        live.join(newcomer, server_id, owner)
        rest = live.data(live.get(f"/api/servers/{server_id}/members/{newcomer.id}", owner))
        assert received(client, "MEMBER_ADD") == {**rest, "serverId": server_id}

    def test_member_update(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, owner)
        path = f"/api/servers/{server_id}/members/@me"
        rest = live.data(live.patch(path, member, json={"nickname": "Nick"}))
        assert received(client, "MEMBER_UPDATE") == {**rest, "serverId": server_id}

    def test_role_given_is_a_member_update(self, live: Live) -> None:
        owner, member, server_id = room(live)
        role = live.create_role(owner, server_id, name="r")
        client = connect_as(live, member)
        path = f"/api/servers/{server_id}/members/{member.id}/roles/{role['id']}"
        rest = live.data(live.put(path, owner))
        assert received(client, "MEMBER_UPDATE") == {**rest, "serverId": server_id}

    def test_member_remove_on_leave(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, owner)
        live.data(live.delete(f"/api/users/me/servers/{server_id}", member))
        event = received(client, "MEMBER_REMOVE")
        assert event["serverId"] == server_id and event["user"]["id"] == member.id


class TestRoleEvents:
    def test_create_update_delete(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, member)
        path = f"/api/servers/{server_id}/roles"
        created = live.create_role(owner, server_id, name="r", color=3)
        assert client.wait_for("ROLE_CREATE")["data"] == {**created, "serverId": server_id}
        updated = live.data(live.patch(f"{path}/{created['id']}", owner, json={"name": "s"}))
        assert client.wait_for("ROLE_UPDATE")["data"] == {**updated, "serverId": server_id}
        live.data(live.delete(f"{path}/{created['id']}", owner))
        deleted = received(client, "ROLE_DELETE")
        assert deleted == {"id": created["id"], "serverId": server_id}

    def test_moves_announce_every_shifted_role(self, live: Live) -> None:
        owner, member, server_id = room(live)
        first = live.create_role(owner, server_id, name="first")
        client = connect_as(live, member)
        second = live.create_role(owner, server_id, name="second")  # pushes `first` to 2
        assert client.wait_for("ROLE_CREATE")["data"]["id"] == second["id"]
        moved = received(client, "ROLE_UPDATE")
        assert (moved["id"], moved["position"]) == (first["id"], 2)


class TestBanAndInviteEvents:
    def test_ban_add_and_remove(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, owner)
        path = f"/api/servers/{server_id}/bans/{member.id}"
        ban = live.data(live.put(path, owner, json={"reason": "r"}), 201)
        assert client.wait_for("BAN_ADD")["data"] == {**ban, "serverId": server_id}
        live.data(live.delete(path, owner))
        assert received(client, "BAN_REMOVE") == {**ban, "serverId": server_id}

    def test_banned_member_is_removed(self, live: Live) -> None:
        owner, member, server_id = room(live)
        client = connect_as(live, member)
        live.data(live.put(f"/api/servers/{server_id}/bans/{member.id}", owner), 201)
        assert received(client, "MEMBER_REMOVE")["user"]["id"] == member.id

    def test_invite_create_and_delete(self, live: Live) -> None:
        owner, _, server_id = room(live)
        client = connect_as(live, owner)
        invite = live.data(live.post(f"/api/servers/{server_id}/invites", owner, json={}), 201)
        created = client.wait_for("INVITE_CREATE", code=invite["code"])["data"]
        assert created == {**invite, "serverId": server_id}
        live.data(live.delete(f"/api/invites/{invite['code']}", owner))
        deleted = received(client, "INVITE_DELETE", code=invite["code"])
        assert deleted == {"code": invite["code"], "serverId": server_id, "channelId": None}
