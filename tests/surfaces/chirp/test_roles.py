"""`/api/servers/{id}/roles` through real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gossip.kit.permissions import DEFAULT_EVERYONE_PERMISSIONS, Permission
from gossip.roles import service as roles_service
from tests.live import Live, error_code


def bits(*perms: Permission) -> str:
    value = 0
    for perm in perms:
        value |= perm
    return str(value)


class World:
    """An owner's server, and a manager whose role `mgr` (MANAGE_ROLES + `extra`) sits at
    position 2 above a role `low` at position 1."""

    def __init__(self, live: Live, *extra: Permission) -> None:
        self.live = live
        self.owner, self.manager = live.register(), live.register()
        self.server_id = live.create_server(self.owner)
        live.join(self.manager, self.server_id, self.owner)
        self.mgr = live.create_role(
            self.owner,
            self.server_id,
            name="mgr",
            permissions=bits(Permission.MANAGE_ROLES, *extra),
        )
        self.low = live.create_role(self.owner, self.server_id, name="low")  # pushes mgr to 2
        live.give_role(self.owner, self.server_id, self.manager.id, self.mgr["id"])

    @property
    def path(self) -> str:
        return f"/api/servers/{self.server_id}/roles"

    def roles(self) -> list[dict[str, Any]]:
        roles: list[dict[str, Any]] = self.live.data(self.live.get(self.path, self.owner))
        return roles

    def names(self) -> list[str]:
        return [r["name"] for r in self.roles()]


class TestListRoles:
    def test_everyone_first_and_any_member_may_list(self, live: Live) -> None:
        world = World(live)
        member = live.register()
        live.join(member, world.server_id, world.owner)
        roles = live.data(live.get(world.path, member))
        assert [r["name"] for r in roles] == ["@everyone", "low", "mgr"]
        everyone = roles[0]
        assert everyone == {
            "id": world.server_id,
            "name": "@everyone",
            "color": 0,
            "hoist": False,
            "mentionable": False,
            "position": 0,
            "permissions": str(DEFAULT_EVERYONE_PERMISSIONS),
            "managed": False,
        }
        assert [r["position"] for r in roles] == [0, 1, 2]

    def test_non_member_bad_ids_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.get(f"/api/servers/{server_id}/roles", stranger).status_code == 404
        assert live.get("/api/servers/1x/roles", owner).status_code == 404
        assert live.get(f"/api/servers/{server_id}/roles").status_code == 401


class TestCreateRole:
    def test_defaults_and_fields(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/roles"
        plain = live.data(live.post(path, owner), 201)
        assert plain["name"] == "new role" and plain["permissions"] == "0"
        assert (plain["color"], plain["hoist"], plain["mentionable"], plain["position"]) == (
            0,
            False,
            False,
            1,
        )
        full = live.data(
            live.post(
                path,
                owner,
                json={
                    "name": " Mods ",
                    "color": 0xFFFFFF,
                    "hoist": True,
                    "mentionable": True,
                    "permissions": bits(Permission.KICK_MEMBERS, Permission.BAN_MEMBERS),
                },
            ),
            201,
        )
        assert full["name"] == "Mods" and full["color"] == 0xFFFFFF
        assert full["hoist"] is True and full["mentionable"] is True
        assert full["permissions"] == "6" and full["managed"] is False
        # New roles go in at position 1 and push the others up.
        assert full["position"] == 1
        positions = {r["id"]: r["position"] for r in live.data(live.get(path, owner))}
        assert positions[plain["id"]] == 2 and positions[full["id"]] == 1
        as_int = live.data(live.post(path, owner, json={"permissions": 8}), 201)
        assert as_int["permissions"] == "8"

    def test_validation(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/roles"
        for body in (
            {"name": ""},
            {"name": "   "},
            {"name": "n" * 101},
            {"color": -1},
            {"color": 0x1000000},
            {"color": "red"},
            {"permissions": "abc"},
            {"permissions": "-1"},
            {"permissions": -1},
            {"permissions": True},
            {"permissions": 1.5},
            {"permissions": str(1 << 47)},
            {"permissions": "9" * 21},
        ):
            response = live.post(path, owner, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        assert len(live.data(live.get(path, owner))) == 1

    def test_needs_manage_roles(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        response = live.post(f"/api/servers/{server_id}/roles", member, json={"name": "x"})
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"

    def test_cannot_grant_permissions_one_lacks(self, live: Live) -> None:
        world = World(live)
        denied = live.post(
            world.path, world.manager, json={"permissions": bits(Permission.BAN_MEMBERS)}
        )
        assert denied.status_code == 403 and "BAN_MEMBERS" in denied.json()["error"]["message"]
        allowed = live.post(
            world.path,
            world.manager,
            json={"permissions": bits(Permission.MANAGE_ROLES, Permission.VIEW_CHANNEL)},
        )
        assert allowed.status_code == 201
        assert "new role" in world.names() and len(world.roles()) == 4

    def test_administrators_grant_anything(self, live: Live) -> None:
        world = World(live, Permission.ADMINISTRATOR)
        response = live.post(world.path, world.manager, json={"permissions": bits(*Permission)})
        assert response.status_code == 201

    def test_role_cap(self, live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        monkeypatch.setattr(roles_service, "MAX_ROLES", 3)
        path = f"/api/servers/{server_id}/roles"
        live.data(live.post(path, owner), 201)
        live.data(live.post(path, owner), 201)
        response = live.post(path, owner)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
        assert len(live.data(live.get(path, owner))) == 3

    def test_concurrent_creations_get_distinct_positions(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        url = f"{live.url}/api/servers/{server_id}/roles"

        def create(index: int) -> int:
            with httpx.Client(timeout=30) as client:
                return client.post(
                    url, headers=owner.headers, json={"name": f"r{index}"}
                ).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(create, range(16)))
        assert statuses == [201] * 16
        roles = live.data(live.get(f"/api/servers/{server_id}/roles", owner))
        assert [r["position"] for r in roles] == list(range(17))

    def test_non_member_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.post(f"/api/servers/{server_id}/roles", stranger, json={}).status_code == 404
        assert live.post(f"/api/servers/{server_id}/roles", json={}).status_code == 401


class TestUpdateRole:
    def test_updates_fields(self, live: Live) -> None:
        world = World(live)
        body = {"name": "lower", "color": 255, "hoist": True, "mentionable": True}
        data = live.data(live.patch(f"{world.path}/{world.low['id']}", world.manager, json=body))
        assert {k: data[k] for k in body} == body and data["position"] == 1
        again = next(r for r in world.roles() if r["id"] == world.low["id"])
        assert again == data

    def test_everyone_keeps_its_name_but_permissions_change(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/roles/{server_id}"
        renamed = live.patch(path, owner, json={"name": "everybody"})
        assert renamed.status_code == 400 and error_code(renamed) == "VALIDATION_ERROR"
        same = live.data(live.patch(path, owner, json={"name": "@everyone", "permissions": "0"}))
        assert same["name"] == "@everyone" and same["permissions"] == "0"
        assert same["position"] == 0

    def test_hierarchy(self, live: Live) -> None:
        world = World(live)
        for role in (world.mgr,):
            response = live.patch(f"{world.path}/{role['id']}", world.manager, json={"name": "x"})
            assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert world.names() == ["@everyone", "low", "mgr"]

    def test_granting_needs_holding_removing_does_not(self, live: Live) -> None:
        world = World(live)
        live.data(
            live.patch(
                f"{world.path}/{world.low['id']}",
                world.owner,
                json={"permissions": bits(Permission.BAN_MEMBERS, Permission.KICK_MEMBERS)},
            )
        )
        grant = live.patch(
            f"{world.path}/{world.low['id']}",
            world.manager,
            json={"permissions": bits(Permission.BAN_MEMBERS, Permission.MANAGE_GUILD)},
        )
        assert grant.status_code == 403
        removed = live.data(
            live.patch(
                f"{world.path}/{world.low['id']}",
                world.manager,
                json={"permissions": bits(Permission.BAN_MEMBERS)},
            )
        )
        assert removed["permissions"] == bits(Permission.BAN_MEMBERS)

    def test_validation(self, live: Live) -> None:
        world = World(live)
        path = f"{world.path}/{world.low['id']}"
        for body in ({"name": ""}, {"color": 1 << 24}, {"permissions": "1e3"}):
            response = live.patch(path, world.owner, json=body)
            assert response.status_code == 400, body
        assert next(r for r in world.roles() if r["id"] == world.low["id"]) == world.low | {
            "position": 1
        }

    def test_unknown_role_permission_non_member_anonymous(self, live: Live) -> None:
        world = World(live)
        other_owner = live.register()
        foreign = live.create_role(other_owner, live.create_server(other_owner), name="f")
        for role_id in (foreign["id"], "123", "abc"):
            response = live.patch(f"{world.path}/{role_id}", world.owner, json={"name": "n"})
            assert response.status_code == 404, role_id
        member = live.register()
        live.join(member, world.server_id, world.owner)
        path = f"{world.path}/{world.low['id']}"
        assert live.patch(path, member, json={"name": "n"}).status_code == 403
        assert live.patch(path, other_owner, json={"name": "n"}).status_code == 404
        assert live.patch(path, json={"name": "n"}).status_code == 401


class TestDeleteRole:
    def test_deletes_and_closes_the_gap(self, live: Live) -> None:
        world = World(live)
        member = live.register()
        live.join(member, world.server_id, world.owner)
        live.give_role(world.owner, world.server_id, member.id, world.low["id"])
        assert live.data(live.delete(f"{world.path}/{world.low['id']}", world.manager)) is None
        roles = world.roles()
        assert [(r["name"], r["position"]) for r in roles] == [("@everyone", 0), ("mgr", 1)]
        held = live.data(
            live.get(f"/api/servers/{world.server_id}/members/{member.id}", world.owner)
        )
        assert held["roles"] == []

    def test_everyone_cannot_be_deleted(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        response = live.delete(f"/api/servers/{server_id}/roles/{server_id}", owner)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_hierarchy_and_permission(self, live: Live) -> None:
        world = World(live)
        assert live.delete(f"{world.path}/{world.mgr['id']}", world.manager).status_code == 403
        member = live.register()
        live.join(member, world.server_id, world.owner)
        assert live.delete(f"{world.path}/{world.low['id']}", member).status_code == 403
        assert world.names() == ["@everyone", "low", "mgr"]

    def test_unknown_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live)
        stranger = live.register()
        assert live.delete(f"{world.path}/42", world.owner).status_code == 404
        assert live.delete(f"{world.path}/{world.low['id']}", stranger).status_code == 404
        assert live.delete(f"{world.path}/{world.low['id']}").status_code == 401
        assert live.delete(f"{world.path}/{world.low['id']}", world.owner).status_code == 200
        assert live.delete(f"{world.path}/{world.low['id']}", world.owner).status_code == 404


class TestReorderRoles:
    def test_moves_shift_neighbours(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        path = f"/api/servers/{server_id}/roles"
        a, b, c = (live.create_role(owner, server_id, name=n) for n in "abc")
        # Each new role goes in at 1, so bottom to top: c, b, a.
        data = live.data(live.patch(path, owner, json=[{"id": c["id"], "position": 3}]))
        assert [(r["name"], r["position"]) for r in data] == [
            ("@everyone", 0),
            ("b", 1),
            ("a", 2),
            ("c", 3),
        ]
        swapped = live.data(
            live.patch(
                path, owner, json=[{"id": b["id"], "position": 2}, {"id": a["id"], "position": 1}]
            )
        )
        assert [r["name"] for r in swapped] == ["@everyone", "a", "b", "c"]
        # Past the end means the top.
        top = live.data(live.patch(path, owner, json=[{"id": a["id"], "position": 99}]))
        assert [(r["name"], r["position"]) for r in top][1:] == [("b", 1), ("c", 2), ("a", 3)]

    def test_hierarchy(self, live: Live) -> None:
        world = World(live)
        extra = live.create_role(world.owner, world.server_id, name="extra")
        # bottom to top: extra(1), low(2), mgr(3). The manager may shuffle below mgr…
        moved = live.data(
            live.patch(world.path, world.manager, json=[{"id": extra["id"], "position": 2}])
        )
        assert [r["name"] for r in moved] == ["@everyone", "low", "extra", "mgr"]
        # …but not move their own role, nor lift another to or above it.
        own = live.patch(world.path, world.manager, json=[{"id": world.mgr["id"], "position": 1}])
        assert own.status_code == 403
        lift = live.patch(world.path, world.manager, json=[{"id": extra["id"], "position": 3}])
        assert lift.status_code == 403
        assert world.names() == ["@everyone", "low", "extra", "mgr"]

    def test_validation(self, live: Live) -> None:
        world = World(live)
        low, mgr = world.low["id"], world.mgr["id"]
        for body in (
            [],
            [{"id": world.server_id, "position": 1}],
            [{"id": low, "position": 1}, {"id": low, "position": 2}],
            [{"id": low, "position": 2}, {"id": mgr, "position": 2}],
            [{"id": "123", "position": 1}],
            [{"id": "abc", "position": 1}],
            [{"id": low, "position": 0}],
            [{"id": low}],
            {"id": low, "position": 1},
        ):
            response = world.live.patch(world.path, world.owner, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        assert world.names() == ["@everyone", "low", "mgr"]

    def test_permission_non_member_and_anonymous(self, live: Live) -> None:
        world = World(live)
        member, stranger = live.register(), live.register()
        live.join(member, world.server_id, world.owner)
        body = [{"id": world.low["id"], "position": 1}]
        assert live.patch(world.path, member, json=body).status_code == 403
        assert live.patch(world.path, stranger, json=body).status_code == 404
        assert live.patch("/api/servers/abc/roles", world.owner, json=body).status_code == 404
        assert live.patch(world.path, json=body).status_code == 401
