"""`/api/servers/{id}/bans` through real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gossip.bans import service as bans_service
from gossip.kit.permissions import Permission
from gossip.kit.timefmt import utcnow
from tests.live import Live, User, error_code


class World:
    """An owner's server with a moderator (role `mod`: BAN_MEMBERS + `extra`) above a plain
    member, and an outsider who is not in the server."""

    def __init__(self, live: Live, *extra: Permission) -> None:
        self.live = live
        self.owner, self.mod, self.member = live.register(), live.register(), live.register()
        self.outsider = live.register()
        self.server_id = live.create_server(self.owner)
        for user in (self.mod, self.member):
            live.join(user, self.server_id, self.owner)
        perms = Permission.BAN_MEMBERS
        for perm in extra:
            perms |= perm
        self.mod_role = live.create_role(
            self.owner, self.server_id, name="mod", permissions=str(int(perms))
        )
        live.give_role(self.owner, self.server_id, self.mod.id, self.mod_role["id"])

    def path(self, suffix: str = "") -> str:
        return f"/api/servers/{self.server_id}/bans{suffix}"

    def rejoin(self, user: User) -> Any:
        invite = self.live.post(f"/api/servers/{self.server_id}/invites", self.owner, json={})
        return self.live.post(f"/api/invites/{self.live.data(invite, 201)['code']}", user)


class TestBan:
    def test_ban_removes_member_and_blocks_rejoining(self, live: Live) -> None:
        world = World(live)
        response = live.put(world.path(f"/{world.member.id}"), world.mod, json={"reason": " spam "})
        ban = live.data(response, 201)
        assert ban["user"]["id"] == world.member.id and ban["reason"] == "spam"
        assert ban["moderatorId"] == world.mod.id and ban["createdAt"].endswith("Z")
        assert live.get(f"/api/servers/{world.server_id}", world.member).status_code == 404
        members = live.data(live.get(f"/api/servers/{world.server_id}/members", world.owner))
        assert world.member.id not in {m["user"]["id"] for m in members}
        again = world.rejoin(world.member)
        assert again.status_code == 403 and error_code(again) == "BANNED"

    def test_preemptive_ban_of_a_non_member(self, live: Live) -> None:
        world = World(live)
        live.data(live.put(world.path(f"/{world.outsider.id}"), world.mod), 201)
        joined = world.rejoin(world.outsider)
        assert joined.status_code == 403 and error_code(joined) == "BANNED"

    def test_banning_again_updates_the_reason(self, live: Live) -> None:
        world = World(live)
        path = world.path(f"/{world.outsider.id}")
        live.data(live.put(path, world.mod, json={"reason": "first"}), 201)
        again = live.data(live.put(path, world.owner, json={"reason": "second"}), 200)
        assert again["reason"] == "second" and again["moderatorId"] == world.owner.id
        assert live.data(live.get(path, world.mod))["reason"] == "second"

    def test_unknown_user_is_404(self, live: Live) -> None:
        world = World(live)
        for target in ("123456789", "abc"):
            response = live.put(world.path(f"/{target}"), world.mod)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"

    def test_yourself_is_400(self, live: Live) -> None:
        world = World(live)
        response = live.put(world.path(f"/{world.mod.id}"), world.mod)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_hierarchy(self, live: Live) -> None:
        world = World(live)
        owner = live.put(world.path(f"/{world.owner.id}"), world.mod)
        assert owner.status_code == 403 and error_code(owner) == "FORBIDDEN"
        peer = live.register()
        live.join(peer, world.server_id, world.owner)
        live.give_role(world.owner, world.server_id, peer.id, world.mod_role["id"])
        assert live.put(world.path(f"/{peer.id}"), world.mod).status_code == 403
        assert live.data(live.get(world.path(), world.owner)) == []
        # The owner bans anyone but themselves.
        live.data(live.put(world.path(f"/{peer.id}"), world.owner), 201)

    def test_needs_ban_members(self, live: Live) -> None:
        world = World(live)
        response = live.put(world.path(f"/{world.outsider.id}"), world.member)
        assert response.status_code == 403
        assert live.data(live.get(world.path(), world.owner)) == []

    def test_validation(self, live: Live) -> None:
        world = World(live)
        path = world.path(f"/{world.member.id}")
        for body in (
            {"reason": "r" * 513},
            {"deleteMessageDays": 8},
            {"deleteMessageDays": -1},
            {"deleteMessageDays": "all"},
        ):
            response = live.put(path, world.mod, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        assert live.get(f"/api/servers/{world.server_id}", world.member).status_code == 200

    def test_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live)
        assert live.put(world.path(f"/{world.member.id}"), world.outsider).status_code == 404
        assert live.put(f"/api/servers/x/bans/{world.member.id}", world.owner).status_code == 404
        assert live.put(world.path(f"/{world.member.id}")).status_code == 401

    def test_delete_message_days(self, live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
        world = World(live)
        channels_path = f"/api/servers/{world.server_id}/channels"
        messages = (
            f"/api/channels/{live.data(live.get(channels_path, world.owner))[0]['id']}/messages"
        )
        sent = {}
        for user, text in ((world.member, "spam"), (world.owner, "keep"), (world.member, "last")):
            sent[text] = live.data(live.post(messages, user, json={"content": text}), 201)
        # Seen from two days on, "the last day" holds none of these messages.
        moment = utcnow() + timedelta(days=2)
        monkeypatch.setattr(bans_service, "utcnow", lambda: moment)
        live.data(
            live.put(world.path(f"/{world.member.id}"), world.mod, json={"deleteMessageDays": 1}),
            201,
        )
        assert len(live.data(live.get(messages, world.owner))) == 3
        monkeypatch.undo()
        live.data(live.delete(world.path(f"/{world.member.id}"), world.mod))
        live.data(
            live.put(world.path(f"/{world.member.id}"), world.mod, json={"deleteMessageDays": 1}),
            201,
        )
        left = live.data(live.get(messages, world.owner))
        assert [m["content"] for m in left] == ["keep"]
        channel = live.data(live.get(channels_path, world.owner))[0]
        assert channel["lastMessageId"] == sent["keep"]["id"]


class TestListBans:
    def test_lists_in_user_order_with_pagination(self, live: Live) -> None:
        world = World(live)
        targets = sorted([live.register() for _ in range(3)], key=lambda u: int(u.id))
        for user in targets:
            live.data(live.put(world.path(f"/{user.id}"), world.mod, json={"reason": "r"}), 201)
        everything = live.data(live.get(world.path(), world.mod))
        assert [b["user"]["id"] for b in everything] == [u.id for u in targets]
        first = live.data(live.get(world.path(), world.mod, params={"limit": 2}))
        assert [b["user"]["id"] for b in first] == [u.id for u in targets[:2]]
        rest = live.data(live.get(world.path(), world.mod, params={"after": targets[1].id}))
        assert [b["user"]["id"] for b in rest] == [targets[2].id]

    def test_bad_parameters(self, live: Live) -> None:
        world = World(live)
        for params in ({"limit": 0}, {"limit": 1001}, {"after": "x"}):
            assert live.get(world.path(), world.mod, params=params).status_code == 400, params

    def test_permission_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live)
        assert live.get(world.path(), world.member).status_code == 403
        assert live.get(world.path(), world.outsider).status_code == 404
        assert live.get("/api/servers/0/bans", world.owner).status_code == 404
        assert live.get(world.path()).status_code == 401


class TestGetBan:
    def test_found_and_not_banned(self, live: Live) -> None:
        world = World(live)
        live.data(live.put(world.path(f"/{world.outsider.id}"), world.mod), 201)
        ban = live.data(live.get(world.path(f"/{world.outsider.id}"), world.mod))
        assert ban["user"]["id"] == world.outsider.id and ban["reason"] is None
        for target in (world.member.id, "nope"):
            response = live.get(world.path(f"/{target}"), world.mod)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"

    def test_permission_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live)
        live.data(live.put(world.path(f"/{world.outsider.id}"), world.mod), 201)
        path = world.path(f"/{world.outsider.id}")
        assert live.get(path, world.member).status_code == 403
        assert live.get(path, world.outsider).status_code == 404
        assert live.get(path).status_code == 401


class TestUnban:
    def test_unban_lets_them_rejoin(self, live: Live) -> None:
        world = World(live)
        live.data(live.put(world.path(f"/{world.member.id}"), world.mod), 201)
        assert live.data(live.delete(world.path(f"/{world.member.id}"), world.mod)) is None
        assert live.data(live.get(world.path(), world.mod)) == []
        live.data(world.rejoin(world.member))
        assert live.get(f"/api/servers/{world.server_id}", world.member).status_code == 200

    def test_not_banned_is_404(self, live: Live) -> None:
        world = World(live)
        for target in (world.member.id, "abc"):
            assert live.delete(world.path(f"/{target}"), world.mod).status_code == 404

    def test_permission_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live)
        live.data(live.put(world.path(f"/{world.outsider.id}"), world.mod), 201)
        path = world.path(f"/{world.outsider.id}")
        assert live.delete(path, world.member).status_code == 403
        stranger = live.register()
        assert live.delete(path, stranger).status_code == 404
        assert live.delete(path).status_code == 401
        assert live.get(path, world.mod).status_code == 200
