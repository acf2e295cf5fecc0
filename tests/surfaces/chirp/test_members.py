"""`/api/servers/{id}/members…` through real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from gossip.kit.permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, Permission
from tests.live import Live, error_code


def bits(*perms: Permission) -> str:
    value = 0
    for perm in perms:
        value |= perm
    return str(value)


class World:
    """An owner's server with a moderator (role `mod`) above a plain member (role `low`)."""

    def __init__(self, live: Live, mod_perms: str = bits(Permission.MANAGE_ROLES)) -> None:
        self.owner, self.mod, self.member = live.register(), live.register(), live.register()
        self.server_id = live.create_server(self.owner)
        for user in (self.mod, self.member):
            live.join(user, self.server_id, self.owner)
        self.low = live.create_role(self.owner, self.server_id, name="low")
        self.mod_role = live.create_role(
            self.owner, self.server_id, name="mod", permissions=mod_perms
        )  # created last: position 1, below `low`; move it up
        live.data(
            live.patch(
                f"/api/servers/{self.server_id}/roles",
                self.owner,
                json=[{"id": self.mod_role["id"], "position": 2}],
            )
        )
        live.give_role(self.owner, self.server_id, self.mod.id, self.mod_role["id"])
        live.give_role(self.owner, self.server_id, self.member.id, self.low["id"])

    def path(self, suffix: str = "") -> str:
        return f"/api/servers/{self.server_id}/members{suffix}"


class TestListMembers:
    def test_shape_and_order(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        data = live.data(live.get(f"/api/servers/{server_id}/members", member))
        assert [m["user"]["id"] for m in data] == sorted([owner.id, member.id], key=int)
        by_id = {m["user"]["id"]: m for m in data}
        assert by_id[owner.id]["permissions"] == str(ALL_PERMISSIONS)
        mine = by_id[member.id]
        assert mine["user"] == {
            "id": member.id,
            "username": member.username,
            "avatar": None,
            "bot": False,
        }
        assert mine["roles"] == [] and mine["nickname"] is None and mine["pending"] is False
        assert mine["premiumSince"] is None and mine["joinedAt"].endswith("Z")
        assert mine["permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS)

    def test_roles_and_permissions_per_member(self, live: Live) -> None:
        world = World(live, bits(Permission.KICK_MEMBERS))
        data = live.data(live.get(world.path(), world.member))
        by_id = {m["user"]["id"]: m for m in data}
        assert by_id[world.mod.id]["roles"] == [world.mod_role["id"]]
        assert by_id[world.mod.id]["permissions"] == str(
            DEFAULT_EVERYONE_PERMISSIONS | Permission.KICK_MEMBERS
        )
        assert by_id[world.member.id]["roles"] == [world.low["id"]]

    def test_pagination_with_after_and_limit(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        users = [live.register() for _ in range(4)]
        for user in users:
            live.join(user, server_id, owner)
        everyone = sorted([owner.id, *(u.id for u in users)], key=int)
        path = f"/api/servers/{server_id}/members"
        first = live.data(live.get(path, owner, params={"limit": 2}))
        assert [m["user"]["id"] for m in first] == everyone[:2]
        second = live.data(live.get(path, owner, params={"limit": 2, "after": everyone[1]}))
        assert [m["user"]["id"] for m in second] == everyone[2:4]
        rest = live.data(live.get(path, owner, params={"after": everyone[3]}))
        assert [m["user"]["id"] for m in rest] == everyone[4:]
        zero = live.data(live.get(path, owner, params={"after": "0", "limit": 1000}))
        assert len(zero) == 5

    def test_query_matches_username_or_nickname_prefix(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        alice = live.register(f"Zq{owner.id[-6:]}alice")
        bob = live.register()
        for user in (alice, bob):
            live.join(user, server_id, owner)
        path = f"/api/servers/{server_id}/members"
        live.data(live.patch(f"{path}/@me", bob, json={"nickname": "zq_nick"}))
        found = live.data(live.get(path, owner, params={"query": f"zQ{owner.id[-6:]}"}))
        assert [m["user"]["id"] for m in found] == [alice.id]
        # LIKE wildcards are literal: "zq_" must not match "zqX…".
        nick = live.data(live.get(path, owner, params={"query": "ZQ_"}))
        assert [m["user"]["id"] for m in nick] == [bob.id]
        assert live.data(live.get(path, owner, params={"query": "%"})) == []

    def test_bad_query_parameters_are_400(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/members"
        for params in (
            {"limit": 0},
            {"limit": 1001},
            {"limit": "many"},
            {"after": "abc"},
            {"after": "-5"},
            {"query": "q" * 33},
        ):
            response = live.get(path, owner, params=params)
            assert response.status_code == 400, params
            assert error_code(response) == "VALIDATION_ERROR"

    def test_non_member_bad_ids_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.get(f"/api/servers/{server_id}/members", stranger).status_code == 404
        assert live.get("/api/servers/zz/members", owner).status_code == 404
        assert live.get(f"/api/servers/{server_id}/members").status_code == 401


class TestGetMember:
    def test_by_id_and_me(self, live: Live) -> None:
        world = World(live)
        data = live.data(live.get(world.path(f"/{world.mod.id}"), world.member))
        assert data["user"]["id"] == world.mod.id and data["roles"] == [world.mod_role["id"]]
        me = live.data(live.get(world.path("/@me"), world.mod))
        assert me == data

    def test_unknown_member_and_bad_ids(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        for target in (stranger.id, "abc", "0"):
            response = live.get(f"/api/servers/{server_id}/members/{target}", owner)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"

    def test_non_member_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.get(f"/api/servers/{server_id}/members/{owner.id}", stranger).status_code == 404
        assert live.get(f"/api/servers/{server_id}/members/{owner.id}").status_code == 401


class TestUpdateMember:
    def test_own_nickname_with_change_nickname(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        path = f"/api/servers/{server_id}/members/@me"
        data = live.data(live.patch(path, member, json={"nickname": "  Nick  "}))
        assert data["nickname"] == "Nick"
        assert live.data(live.get(path, member))["nickname"] == "Nick"
        assert live.data(live.patch(path, member, json={"nickname": None}))["nickname"] is None
        live.data(live.patch(path, member, json={"nickname": "x"}))
        assert live.data(live.patch(path, member, json={"nickname": ""}))["nickname"] is None
        # A body without `nickname` changes nothing.
        assert live.data(live.patch(path, member, json={}))["nickname"] is None

    def test_own_nickname_without_change_nickname_is_403(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        everyone = DEFAULT_EVERYONE_PERMISSIONS & ~Permission.CHANGE_NICKNAME
        live.data(
            live.patch(
                f"/api/servers/{server_id}/roles/{server_id}",
                owner,
                json={"permissions": str(everyone)},
            )
        )
        path = f"/api/servers/{server_id}/members/{member.id}"
        response = live.patch(path, member, json={"nickname": "nope"})
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"

    def test_others_need_manage_nicknames_and_rank(self, live: Live) -> None:
        world = World(live, bits(Permission.MANAGE_NICKNAMES))
        # The plain member cannot rename the moderator.
        denied = live.patch(world.path(f"/{world.mod.id}"), world.member, json={"nickname": "x"})
        assert denied.status_code == 403
        # The moderator renames the member below them…
        data = live.data(
            live.patch(world.path(f"/{world.member.id}"), world.mod, json={"nickname": "Low"})
        )
        assert data["nickname"] == "Low" and data["user"]["id"] == world.member.id
        # …but not the owner, nor someone at the same rank.
        owner = live.patch(world.path(f"/{world.owner.id}"), world.mod, json={"nickname": "x"})
        assert owner.status_code == 403
        peer = live.register()
        live.join(peer, world.server_id, world.owner)
        live.give_role(world.owner, world.server_id, peer.id, world.mod_role["id"])
        same = live.patch(world.path(f"/{peer.id}"), world.mod, json={"nickname": "x"})
        assert same.status_code == 403
        # The owner renames anyone.
        live.data(live.patch(world.path(f"/{world.mod.id}"), world.owner, json={"nickname": "M"}))

    def test_validation(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/members/@me"
        for nickname in ("n" * 33, "bad\u0000nick", 5):
            response = live.patch(path, owner, json={"nickname": nickname})
            assert response.status_code == 400, nickname
            assert error_code(response) == "VALIDATION_ERROR"

    def test_unknown_member_non_member_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/members"
        assert live.patch(f"{path}/{stranger.id}", owner, json={"nickname": "a"}).status_code == 404
        assert live.patch(f"{path}/@me", stranger, json={"nickname": "a"}).status_code == 404
        assert live.patch(f"{path}/@me", json={"nickname": "a"}).status_code == 401


class TestAddMemberRole:
    def test_owner_assigns_idempotently(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        role = live.create_role(
            owner, server_id, name="r", permissions=bits(Permission.KICK_MEMBERS)
        )
        path = f"/api/servers/{server_id}/members/{member.id}/roles/{role['id']}"
        data = live.data(live.put(path, owner))
        assert data["roles"] == [role["id"]]
        assert data["permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS | Permission.KICK_MEMBERS)
        assert live.data(live.put(path, owner))["roles"] == [role["id"]]

    def test_hierarchy(self, live: Live) -> None:
        world = World(live)
        # Below the moderator's highest role: allowed.
        live.give_role(world.mod, world.server_id, world.member.id, world.low["id"])
        # Their own highest role, or one above it: refused.
        for role_id in (world.mod_role["id"],):
            response = live.put(world.path(f"/{world.member.id}/roles/{role_id}"), world.mod)
            assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        high = live.create_role(world.owner, world.server_id, name="high")
        live.data(
            live.patch(
                f"/api/servers/{world.server_id}/roles",
                world.owner,
                json=[{"id": high["id"], "position": 3}],
            )
        )
        response = live.put(world.path(f"/{world.mod.id}/roles/{high['id']}"), world.mod)
        assert response.status_code == 403
        member = live.data(live.get(world.path(f"/{world.member.id}"), world.owner))
        assert member["roles"] == [world.low["id"]]

    def test_needs_manage_roles(self, live: Live) -> None:
        world = World(live)
        response = live.put(world.path(f"/{world.mod.id}/roles/{world.low['id']}"), world.member)
        assert response.status_code == 403

    def test_everyone_cannot_be_assigned(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        response = live.put(f"/api/servers/{server_id}/members/{owner.id}/roles/{server_id}", owner)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_unknown_role_member_and_bad_ids(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        other_server = live.create_server(stranger)
        foreign = live.create_role(stranger, other_server, name="foreign")
        role = live.create_role(owner, server_id, name="r")
        base = f"/api/servers/{server_id}/members"
        for path in (
            f"{base}/{owner.id}/roles/{foreign['id']}",
            f"{base}/{owner.id}/roles/{owner.id}",
            f"{base}/{owner.id}/roles/abc",
            f"{base}/{stranger.id}/roles/{role['id']}",
            f"{base}/nobody/roles/{role['id']}",
        ):
            response = live.put(path, owner)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND", path

    def test_non_member_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        role = live.create_role(owner, server_id, name="r")
        path = f"/api/servers/{server_id}/members/{stranger.id}/roles/{role['id']}"
        assert live.put(path, stranger).status_code == 404
        assert live.put(path).status_code == 401


class TestRemoveMemberRole:
    def test_removes(self, live: Live) -> None:
        world = World(live)
        path = world.path(f"/{world.member.id}/roles/{world.low['id']}")
        assert live.data(live.delete(path, world.mod)) is None
        member = live.data(live.get(world.path(f"/{world.member.id}"), world.owner))
        assert member["roles"] == []
        assert live.data(live.delete(path, world.mod)) is None  # already gone: still fine

    def test_hierarchy_and_permission(self, live: Live) -> None:
        world = World(live)
        own = world.path(f"/{world.mod.id}/roles/{world.mod_role['id']}")
        assert live.delete(own, world.mod).status_code == 403
        low = world.path(f"/{world.member.id}/roles/{world.low['id']}")
        assert live.delete(low, world.member).status_code == 403
        member = live.data(live.get(world.path(f"/{world.member.id}"), world.owner))
        assert member["roles"] == [world.low["id"]]

    def test_everyone_unknown_and_anonymous(self, live: Live) -> None:
        world = World(live)
        everyone = world.path(f"/{world.member.id}/roles/{world.server_id}")
        assert live.delete(everyone, world.owner).status_code == 400
        assert (
            live.delete(world.path(f"/{world.member.id}/roles/1"), world.owner).status_code == 404
        )
        assert (
            live.delete(world.path(f"/{world.member.id}/roles/{world.low['id']}")).status_code
            == 401
        )


class TestKickMember:
    def test_kick_removes_membership(self, live: Live) -> None:
        world = World(live, bits(Permission.KICK_MEMBERS))
        assert live.data(live.delete(world.path(f"/{world.member.id}"), world.mod)) is None
        assert live.get(f"/api/servers/{world.server_id}", world.member).status_code == 404
        assert live.get(world.path(f"/{world.member.id}"), world.owner).status_code == 404
        # A kick is not a ban: they may come back, without their old roles.
        live.join(world.member, world.server_id, world.owner)
        assert live.data(live.get(world.path(f"/{world.member.id}"), world.owner))["roles"] == []

    def test_hierarchy(self, live: Live) -> None:
        world = World(live, bits(Permission.KICK_MEMBERS))
        owner = live.delete(world.path(f"/{world.owner.id}"), world.mod)
        assert owner.status_code == 403 and error_code(owner) == "FORBIDDEN"
        peer = live.register()
        live.join(peer, world.server_id, world.owner)
        live.give_role(world.owner, world.server_id, peer.id, world.mod_role["id"])
        assert live.delete(world.path(f"/{peer.id}"), world.mod).status_code == 403
        assert live.get(world.path(f"/{peer.id}"), world.owner).status_code == 200

    def test_needs_kick_members(self, live: Live) -> None:
        world = World(live)
        response = live.delete(world.path(f"/{world.member.id}"), world.mod)
        assert response.status_code == 403

    def test_cannot_kick_yourself(self, live: Live) -> None:
        world = World(live, bits(Permission.KICK_MEMBERS))
        for user in (world.mod, world.owner):
            response = live.delete(world.path("/@me"), user)
            assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_unknown_target_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live, bits(Permission.KICK_MEMBERS))
        stranger = live.register()
        assert live.delete(world.path(f"/{stranger.id}"), world.mod).status_code == 404
        assert live.delete(world.path("/x"), world.mod).status_code == 404
        assert live.delete(world.path(f"/{world.member.id}"), stranger).status_code == 404
        assert live.delete(world.path(f"/{world.member.id}")).status_code == 401
