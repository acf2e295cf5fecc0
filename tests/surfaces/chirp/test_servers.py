"""`/api/servers` and leaving a server, through real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from gossip.kit.permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, Permission
from tests.live import Live, User, error_code

BAD_IDS = ("abc", "0", "-1", "99999999999999999999", "1.5")


def member_with(live: Live, owner: User, server_id: str, *perms: Permission) -> User:
    """A new member holding a role with exactly `perms`."""
    user = live.register()
    live.join(user, server_id, owner)
    bits = 0
    for perm in perms:
        bits |= perm
    role = live.create_role(owner, server_id, name="granted", permissions=str(bits))
    live.give_role(owner, server_id, user.id, role["id"])
    return user


class TestCreateServer:
    def test_creates_and_lists(self, live: Live) -> None:
        owner = live.register()
        created = live.data(
            live.post("/api/servers", owner, json={"name": "  Mine  ", "icon": "/media/a.png"}),
            201,
        )
        assert created["name"] == "Mine" and created["icon"] == "/media/a.png"
        assert created["ownerId"] == owner.id and created["createdAt"].endswith("Z")
        listed = live.data(live.get("/api/servers", owner))
        assert [s["id"] for s in listed] == [created["id"]]
        assert listed[0]["isOwner"] is True and listed[0]["memberCount"] == 1
        assert listed[0]["permissions"] == str(ALL_PERMISSIONS)

    def test_validation(self, live: Live) -> None:
        owner = live.register()
        for body in ({"name": "x"}, {"name": "   x   "}, {"name": "ok", "icon": "javascript:x"}):
            response = live.post("/api/servers", owner, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        assert live.data(live.get("/api/servers", owner)) == []

    def test_anonymous(self, live: Live) -> None:
        assert live.post("/api/servers", json={"name": "nope"}).status_code == 401
        assert live.get("/api/servers").status_code == 401


class TestListServers:
    def test_join_order_and_permissions_per_server(self, live: Live) -> None:
        first_owner, second_owner = live.register(), live.register()
        first = live.create_server(first_owner, "First")
        second = live.create_server(second_owner, "Second")
        member = member_with(live, second_owner, second, Permission.KICK_MEMBERS)
        live.join(member, first, first_owner)
        listed = live.data(live.get("/api/servers", member))
        assert [s["id"] for s in listed] == [second, first]
        assert listed[0]["permissions"] == str(
            DEFAULT_EVERYONE_PERMISSIONS | Permission.KICK_MEMBERS
        )
        assert listed[1]["permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS)
        assert [s["isOwner"] for s in listed] == [False, False]
        assert [s["memberCount"] for s in listed] == [2, 2]


class TestGetServer:
    def test_owner_sees_details(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner, "Details")
        data = live.data(live.get(f"/api/servers/{server_id}", owner))
        assert data["id"] == server_id and data["name"] == "Details"
        assert data["ownerId"] == owner.id
        assert (data["memberCount"], data["channelCount"], data["emojiCount"]) == (1, 1, 0)
        assert data["boostLevel"] == 0 and data["features"] == []
        assert data["icon"] is None and data["banner"] is None and data["description"] is None
        assert data["permissions"] == str(ALL_PERMISSIONS)
        assert data["joinedAt"].endswith("Z")

    def test_member_sees_own_permissions(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        data = live.data(live.get(f"/api/servers/{server_id}", member))
        assert data["permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS)
        assert data["memberCount"] == 2

    def test_non_member_and_bad_ids_are_404(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        response = live.get(f"/api/servers/{server_id}", stranger)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        for bad in BAD_IDS:
            assert live.get(f"/api/servers/{bad}", owner).status_code == 404, bad

    def test_anonymous(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        response = live.get(f"/api/servers/{server_id}")
        assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"


class TestUpdateServer:
    def test_owner_updates_fields(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        body = {
            "name": "Renamed",
            "description": "About us",
            "icon": "https://cdn.example.com/i.png",
            "banner": "/media/banner.png",
            "features": ["COMMUNITY", "NEWS", "COMMUNITY"],
        }
        data = live.data(live.patch(f"/api/servers/{server_id}", owner, json=body))
        assert data["name"] == "Renamed" and data["description"] == "About us"
        assert data["icon"] == body["icon"] and data["banner"] == body["banner"]
        assert data["features"] == ["COMMUNITY", "NEWS"]
        assert data["permissions"] == str(ALL_PERMISSIONS)
        again = live.data(live.get(f"/api/servers/{server_id}", owner))
        assert {k: again[k] for k in body} == {**body, "features": ["COMMUNITY", "NEWS"]}

    def test_null_clears_and_absent_keeps(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        live.data(
            live.patch(
                f"/api/servers/{server_id}",
                owner,
                json={"description": "d", "icon": "https://x.example/i.png"},
            )
        )
        data = live.data(
            live.patch(f"/api/servers/{server_id}", owner, json={"icon": None, "description": ""})
        )
        assert data["icon"] is None and data["description"] is None
        assert data["name"] == "Test server"

    def test_manage_guild_role_may_update(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        manager = member_with(live, owner, server_id, Permission.MANAGE_GUILD)
        data = live.data(live.patch(f"/api/servers/{server_id}", manager, json={"name": "ByMgr"}))
        assert data["name"] == "ByMgr"

    def test_member_without_permission_is_403(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        response = live.patch(f"/api/servers/{server_id}", member, json={"name": "Hijack"})
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert live.data(live.get(f"/api/servers/{server_id}", owner))["name"] == "Test server"

    def test_non_member_bad_ids_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.patch(f"/api/servers/{server_id}", stranger, json={}).status_code == 404
        assert live.patch("/api/servers/abc", owner, json={}).status_code == 404
        assert live.patch(f"/api/servers/{server_id}", json={"name": "x y"}).status_code == 401

    def test_validation_writes_nothing(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        bad_bodies = [
            {"name": "x"},
            {"name": "   y   "},
            {"name": None},
            {"name": "n" * 101},
            {"description": "d" * 1025},
            {"icon": "javascript:alert(1)"},
            {"banner": "https://a b"},
            {"icon": "//evil.example/x.png"},
            {"icon": "https://x.example/" + "a" * 512},
            {"features": ["NOT_A_FEATURE"]},
            {"features": ["VERIFIED"]},
            {"features": ["NEWS"] * 21},
            {"features": None},
            {"features": "NEWS"},
            # A valid change next to an invalid one: neither is applied.
            {"name": "Valid name", "features": ["BOGUS"]},
        ]
        for body in bad_bodies:
            response = live.patch(f"/api/servers/{server_id}", owner, json=body)
            assert response.status_code == 400, body
            assert error_code(response) == "VALIDATION_ERROR"
        data = live.data(live.get(f"/api/servers/{server_id}", owner))
        assert data["name"] == "Test server" and data["features"] == []
        assert data["icon"] is None and data["description"] is None


class TestDeleteServer:
    def test_owner_deletes_everything(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        code = live.data(live.post(f"/api/servers/{server_id}/invites", owner, json={}), 201)[
            "code"
        ]
        live.create_role(owner, server_id, name="doomed")
        assert live.data(live.delete(f"/api/servers/{server_id}", owner)) is None
        for user in (owner, member):
            assert live.get(f"/api/servers/{server_id}", user).status_code == 404
            assert live.data(live.get("/api/servers", user)) == []
        assert live.get(f"/api/invites/{code}").status_code == 404
        assert live.delete(f"/api/servers/{server_id}", owner).status_code == 404

    def test_members_even_administrators_get_403(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        admin = member_with(live, owner, server_id, Permission.ADMINISTRATOR)
        response = live.delete(f"/api/servers/{server_id}", admin)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
        assert live.get(f"/api/servers/{server_id}", owner).status_code == 200

    def test_non_member_bad_ids_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.delete(f"/api/servers/{server_id}", stranger).status_code == 404
        assert live.delete("/api/servers/nope", owner).status_code == 404
        assert live.delete(f"/api/servers/{server_id}").status_code == 401
        assert live.get(f"/api/servers/{server_id}", owner).status_code == 200


class TestLeaveServer:
    def test_member_leaves_and_may_rejoin(self, live: Live) -> None:
        owner, member = live.register(), live.register()
        server_id = live.create_server(owner)
        live.join(member, server_id, owner)
        role = live.create_role(owner, server_id, name="kept?")
        live.give_role(owner, server_id, member.id, role["id"])
        assert live.data(live.delete(f"/api/users/me/servers/{server_id}", member)) is None
        assert live.get(f"/api/servers/{server_id}", member).status_code == 404
        assert live.data(live.get("/api/servers", member)) == []
        assert live.data(live.get(f"/api/servers/{server_id}", owner))["memberCount"] == 1
        # Leaving is not a ban; roles do not survive it.
        live.join(member, server_id, owner)
        again = live.data(live.get(f"/api/servers/{server_id}/members/{member.id}", owner))
        assert again["roles"] == []

    def test_owner_cannot_leave(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)
        response = live.delete(f"/api/users/me/servers/{server_id}", owner)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
        assert "transfer" in response.json()["error"]["message"]
        assert live.get(f"/api/servers/{server_id}", owner).status_code == 200

    def test_non_member_bad_ids_and_anonymous(self, live: Live) -> None:
        owner, stranger = live.register(), live.register()
        server_id = live.create_server(owner)
        assert live.delete(f"/api/users/me/servers/{server_id}", stranger).status_code == 404
        assert live.delete("/api/users/me/servers/x1", stranger).status_code == 404
        assert live.delete(f"/api/users/me/servers/{server_id}").status_code == 401
