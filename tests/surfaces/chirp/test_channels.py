"""`/api/servers/{id}/channels` and `/api/channels/{id}` through real HTTP."""

from __future__ import annotations

from gossip.kit.permissions import Permission
from tests.live import Live, error_code
from tests.surfaces.chirp.chat import channel, deny_everyone, grant_role, room, send, set_overwrite

VIEW = int(Permission.VIEW_CHANNEL)
SEND = int(Permission.SEND_MESSAGES)


class TestListChannels:
    def test_shape(self, live: Live) -> None:
        r = room(live)
        [general] = live.data(live.get(f"/api/servers/{r.server_id}/channels", r.member))
        assert general == {
            "id": r.channel_id,
            "name": "general",
            "type": 0,
            "topic": None,
            "parentId": None,
            "position": 0,
            "permissionOverwrites": [],
            "nsfw": False,
            "lastMessageId": None,
            "createdAt": general["createdAt"],
            "serverId": r.server_id,
        }
        assert general["createdAt"].endswith("Z")

    def test_only_channels_the_caller_can_view(self, live: Live) -> None:
        r = room(live)
        secret = channel(live, r.owner, r.server_id, name="secret")
        deny_everyone(live, r, Permission.VIEW_CHANNEL, channel_id=secret["id"])
        path = f"/api/servers/{r.server_id}/channels"
        assert [c["name"] for c in live.data(live.get(path, r.member))] == ["general"]
        assert [c["name"] for c in live.data(live.get(path, r.owner))] == ["general", "secret"]
        # A member overwrite lets one member back in.
        set_overwrite(live, r.owner, secret["id"], r.member.id, allow=VIEW, kind=1)
        assert len(live.data(live.get(path, r.member))) == 2

    def test_ordered_by_position(self, live: Live) -> None:
        r = room(live)
        channel(live, r.owner, r.server_id, name="b", position=5)
        channel(live, r.owner, r.server_id, name="a", position=3)
        names = [
            c["name"] for c in live.data(live.get(f"/api/servers/{r.server_id}/channels", r.owner))
        ]
        assert names == ["general", "a", "b"]

    def test_errors(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        assert live.get(f"/api/servers/{r.server_id}/channels").status_code == 401
        for who, sid in ((stranger, r.server_id), (r.owner, "abc"), (r.owner, "1")):
            response = live.get(f"/api/servers/{sid}/channels", who)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


class TestCreateChannel:
    def test_creates_with_every_field(self, live: Live) -> None:
        r = room(live)
        category = channel(live, r.owner, r.server_id, name="Talk", type=4)
        created = channel(
            live,
            r.owner,
            r.server_id,
            name="news",
            type=0,
            topic="Read me",
            parentId=category["id"],
            nsfw=True,
            permissionOverwrites=[
                {"id": r.server_id, "type": 0, "allow": "0", "deny": str(SEND)},
                {"id": r.member.id, "type": 1, "allow": str(SEND), "deny": "0"},
            ],
        )
        assert created["name"] == "news" and created["topic"] == "Read me"
        assert created["parentId"] == category["id"] and created["nsfw"] is True
        assert created["serverId"] == r.server_id and created["position"] == 2
        assert sorted(created["permissionOverwrites"], key=lambda o: o["type"]) == [
            {"id": r.server_id, "type": 0, "allow": "0", "deny": str(SEND)},
            {"id": r.member.id, "type": 1, "allow": str(SEND), "deny": "0"},
        ]
        assert live.data(live.get(f"/api/channels/{created['id']}", r.member)) == created
        # The member overwrite beats the @everyone deny.
        send(live, r.member, created["id"])

    def test_voice_and_forum_types(self, live: Live) -> None:
        r = room(live)
        assert channel(live, r.owner, r.server_id, name="Lounge", type=2)["type"] == 2
        assert channel(live, r.owner, r.server_id, name="ideas", type=15)["type"] == 15

    def test_validation(self, live: Live) -> None:
        r = room(live)
        other = room(live)
        text = channel(live, r.owner, r.server_id, name="text")
        category = channel(live, r.owner, r.server_id, name="cat", type=4)
        foreign = channel(live, other.owner, other.server_id, name="cat", type=4)
        bad_bodies = [
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 101},
            {"name": "a\x00b"},
            {"name": "ok", "type": 1},
            {"name": "ok", "type": 3},
            {"name": "ok", "type": "text"},
            {"name": "ok", "topic": "t" * 1025},
            {"name": "ok", "parentId": text["id"]},
            {"name": "ok", "parentId": foreign["id"]},
            {"name": "ok", "parentId": "99999"},
            {"name": "ok", "parentId": "nope"},
            {"name": "ok", "type": 4, "parentId": category["id"]},
            {"name": "ok", "position": -1},
            {
                "name": "ok",
                "permissionOverwrites": [{"id": r.server_id, "type": 0, "allow": "abc"}],
            },
            {"name": "ok", "permissionOverwrites": [{"id": r.server_id, "type": 0, "deny": "-1"}]},
            {
                "name": "ok",
                "permissionOverwrites": [{"id": r.server_id, "type": 0, "allow": str(1 << 47)}],
            },
            {"name": "ok", "permissionOverwrites": [{"id": r.server_id, "type": 2}]},
            {"name": "ok", "permissionOverwrites": [{"id": "x", "type": 0}]},
            # A member ID as a role, a stranger as a member, another server's role.
            {"name": "ok", "permissionOverwrites": [{"id": r.member.id, "type": 0}]},
            {"name": "ok", "permissionOverwrites": [{"id": other.member.id, "type": 1}]},
            {"name": "ok", "permissionOverwrites": [{"id": other.server_id, "type": 0}]},
            {
                "name": "ok",
                "permissionOverwrites": [
                    {"id": r.server_id, "type": 0},
                    {"id": r.server_id, "type": 0},
                ],
            },
        ]
        for body in bad_bodies:
            response = live.post(f"/api/servers/{r.server_id}/channels", r.owner, json=body)
            assert response.status_code == 400, (body, response.text)
            assert error_code(response) == "VALIDATION_ERROR"
        names = [
            c["name"] for c in live.data(live.get(f"/api/servers/{r.server_id}/channels", r.owner))
        ]
        assert names == ["general", "text", "cat"]  # nothing of the refused bodies was written

    def test_details_name_the_field(self, live: Live) -> None:
        r = room(live)
        body = {"name": "ok", "permissionOverwrites": [{"id": r.member.id, "type": 0}]}
        response = live.post(f"/api/servers/{r.server_id}/channels", r.owner, json=body)
        assert response.json()["error"]["details"][0]["field"] == "permissionOverwrites.0.id"

    def test_needs_manage_channels(self, live: Live) -> None:
        r = room(live)
        path = f"/api/servers/{r.server_id}/channels"
        refused = live.post(path, r.member, json={"name": "mine"})
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
        grant_role(live, r, r.member, Permission.MANAGE_CHANNELS)
        assert live.post(path, r.member, json={"name": "mine"}).status_code == 201

    def test_cannot_grant_permissions_you_lack(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.MANAGE_CHANNELS)
        path = f"/api/servers/{r.server_id}/channels"
        for bits in (Permission.ADMINISTRATOR, Permission.BAN_MEMBERS, Permission.MANAGE_ROLES):
            body = {
                "name": "x",
                "permissionOverwrites": [{"id": r.server_id, "type": 0, "allow": str(int(bits))}],
            }
            refused = live.post(path, r.member, json=body)
            assert refused.status_code == 403, bits
        # Bits the member holds (SEND_MESSAGES comes with @everyone) are fine.
        body = {
            "name": "x",
            "permissionOverwrites": [{"id": r.server_id, "type": 0, "deny": str(SEND)}],
        }
        assert live.post(path, r.member, json=body).status_code == 201
        # The owner may set anything.
        body = {
            "name": "y",
            "permissionOverwrites": [
                {"id": r.server_id, "type": 0, "allow": str(int(Permission.MANAGE_ROLES))}
            ],
        }
        assert live.post(path, r.owner, json=body).status_code == 201

    def test_not_found_and_unauthenticated(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        assert (
            live.post(f"/api/servers/{r.server_id}/channels", json={"name": "x"}).status_code == 401
        )
        for who, sid in ((stranger, r.server_id), (r.owner, "abc"), (r.owner, "123")):
            response = live.post(f"/api/servers/{sid}/channels", who, json={"name": "x"})
            assert response.status_code == 404

    def test_at_most_500_channels(self, live: Live) -> None:
        owner = live.register()
        server_id = live.create_server(owner)  # comes with #general
        path = f"/api/servers/{server_id}/channels"
        for i in range(499):
            assert live.post(path, owner, json={"name": f"c{i}"}).status_code == 201
        over = live.post(path, owner, json={"name": "one too many"})
        assert over.status_code == 400 and error_code(over) == "VALIDATION_ERROR"
        assert len(live.data(live.get(path, owner))) == 500


class TestGetChannel:
    def test_visible_channel(self, live: Live) -> None:
        r = room(live)
        data = live.data(live.get(f"/api/channels/{r.channel_id}", r.member))
        assert data["id"] == r.channel_id and data["serverId"] == r.server_id

    def test_last_message_id_follows_sends(self, live: Live) -> None:
        r = room(live)
        message = send(live, r.member, r.channel_id)
        data = live.data(live.get(f"/api/channels/{r.channel_id}", r.owner))
        assert data["lastMessageId"] == message["id"]

    def test_hidden_other_server_and_bad_ids_are_404(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        secret = channel(live, r.owner, r.server_id, name="secret")
        deny_everyone(live, r, Permission.VIEW_CHANNEL, channel_id=secret["id"])
        for who, cid in (
            (r.member, secret["id"]),
            (stranger, r.channel_id),
            (r.owner, "abc"),
            (r.owner, "42"),
            (r.owner, "99999999999999999999"),
        ):
            response = live.get(f"/api/channels/{cid}", who)
            assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert live.get(f"/api/channels/{r.channel_id}").status_code == 401


class TestUpdateChannel:
    def test_changes_given_fields_only(self, live: Live) -> None:
        r = room(live)
        category = channel(live, r.owner, r.server_id, name="cat", type=4)
        made = channel(live, r.owner, r.server_id, name="old", topic="t")
        path = f"/api/channels/{made['id']}"
        data = live.data(
            live.patch(
                path, r.owner, json={"name": "new", "parentId": category["id"], "nsfw": True}
            )
        )
        assert (data["name"], data["topic"], data["parentId"], data["nsfw"]) == (
            "new",
            "t",
            category["id"],
            True,
        )
        data = live.data(
            live.patch(path, r.owner, json={"topic": None, "parentId": None, "position": 7})
        )
        assert (data["topic"], data["parentId"], data["position"], data["name"]) == (
            None,
            None,
            7,
            "new",
        )
        assert live.data(live.get(path, r.member)) == data

    def test_replaces_overwrites(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}"
        body = {"permissionOverwrites": [{"id": r.server_id, "type": 0, "deny": str(SEND)}]}
        data = live.data(live.patch(path, r.owner, json=body))
        assert data["permissionOverwrites"] == [
            {"id": r.server_id, "type": 0, "allow": "0", "deny": str(SEND)}
        ]
        assert live.post(f"{path}/messages", r.member, json={"content": "x"}).status_code == 403
        body = {"permissionOverwrites": [{"id": r.member.id, "type": 1, "allow": str(SEND)}]}
        data = live.data(live.patch(path, r.owner, json=body))
        assert [o["id"] for o in data["permissionOverwrites"]] == [r.member.id]
        data = live.data(live.patch(path, r.owner, json={"permissionOverwrites": []}))
        assert data["permissionOverwrites"] == []

    def test_validation(self, live: Live) -> None:
        r = room(live)
        category = channel(live, r.owner, r.server_id, name="cat", type=4)
        other_cat = channel(live, r.owner, r.server_id, name="cat2", type=4)
        for target, body in (
            (r.channel_id, {"name": ""}),
            (r.channel_id, {"name": None}),
            (r.channel_id, {"topic": "x" * 1025}),
            (r.channel_id, {"parentId": r.channel_id}),
            (category["id"], {"parentId": other_cat["id"]}),
            (r.channel_id, {"nsfw": "very"}),
            (r.channel_id, {"permissionOverwrites": [{"id": "1", "type": 0}]}),
        ):
            response = live.patch(f"/api/channels/{target}", r.owner, json=body)
            assert response.status_code == 400, (body, response.text)
        assert live.data(live.get(f"/api/channels/{r.channel_id}", r.owner))["name"] == "general"

    def test_permissions(self, live: Live) -> None:
        r = room(live)
        path = f"/api/channels/{r.channel_id}"
        assert live.patch(path, r.member, json={"name": "mine"}).status_code == 403
        grant_role(live, r, r.member, Permission.MANAGE_CHANNELS)
        assert live.data(live.patch(path, r.member, json={"name": "mine"}))["name"] == "mine"
        # Overwrites need MANAGE_ROLES as well.
        body = {"permissionOverwrites": [{"id": r.server_id, "type": 0, "deny": str(SEND)}]}
        assert live.patch(path, r.member, json=body).status_code == 403

    def test_not_found(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        assert (
            live.patch(f"/api/channels/{r.channel_id}", stranger, json={"name": "x"}).status_code
            == 404
        )
        assert live.patch("/api/channels/abc", r.owner, json={"name": "x"}).status_code == 404
        assert live.patch(f"/api/channels/{r.channel_id}", json={"name": "x"}).status_code == 401


class TestDeleteChannel:
    def test_deletes_channel_and_its_messages(self, live: Live) -> None:
        r = room(live)
        made = channel(live, r.owner, r.server_id, name="doomed")
        send(live, r.member, made["id"])
        assert live.data(live.delete(f"/api/channels/{made['id']}", r.owner)) is None
        assert live.get(f"/api/channels/{made['id']}", r.owner).status_code == 404
        assert live.get(f"/api/channels/{made['id']}/messages", r.owner).status_code == 404

    def test_category_children_are_detached(self, live: Live) -> None:
        r = room(live)
        category = channel(live, r.owner, r.server_id, name="cat", type=4)
        child = channel(live, r.owner, r.server_id, name="child", parentId=category["id"])
        live.data(live.delete(f"/api/channels/{category['id']}", r.owner))
        assert live.data(live.get(f"/api/channels/{child['id']}", r.owner))["parentId"] is None

    def test_permissions_and_not_found(self, live: Live) -> None:
        r = room(live)
        stranger = live.register()
        assert live.delete(f"/api/channels/{r.channel_id}", r.member).status_code == 403
        assert live.delete(f"/api/channels/{r.channel_id}", stranger).status_code == 404
        assert live.delete("/api/channels/x", r.owner).status_code == 404
        assert live.delete(f"/api/channels/{r.channel_id}").status_code == 401
        assert live.get(f"/api/channels/{r.channel_id}", r.member).status_code == 200


class TestPutOverwrite:
    def test_sets_and_replaces(self, live: Live) -> None:
        r = room(live)
        data = set_overwrite(live, r.owner, r.channel_id, r.server_id, deny=SEND)
        assert data["permissionOverwrites"] == [
            {"id": r.server_id, "type": 0, "allow": "0", "deny": str(SEND)}
        ]
        refused = live.post(
            f"/api/channels/{r.channel_id}/messages", r.member, json={"content": "x"}
        )
        assert refused.status_code == 403
        set_overwrite(live, r.owner, r.channel_id, r.member.id, allow=SEND, kind=1)
        send(live, r.member, r.channel_id)
        data = set_overwrite(live, r.owner, r.channel_id, r.server_id, deny=0)
        assert len(data["permissionOverwrites"]) == 2

    def test_errors(self, live: Live) -> None:
        r = room(live)
        other = room(live)
        path = f"/api/channels/{r.channel_id}/permissions"
        body = {"type": 0, "deny": str(SEND)}
        assert live.put(f"{path}/{r.server_id}", r.member, json=body).status_code == 403
        assert live.put(f"{path}/{other.server_id}", r.owner, json=body).status_code == 404
        assert live.put(f"{path}/{other.member.id}", r.owner, json={"type": 1}).status_code == 404
        assert live.put(f"{path}/abc", r.owner, json=body).status_code == 404
        assert (
            live.put(f"{path}/{r.server_id}", r.owner, json={"type": 0, "allow": "x"}).status_code
            == 400
        )
        assert live.put(f"{path}/{r.server_id}", r.owner, json={"type": 5}).status_code == 400
        assert live.put(f"{path}/{r.server_id}", other.owner, json=body).status_code == 404
        assert live.put(f"{path}/{r.server_id}", json=body).status_code == 401

    def test_moderator_may_only_change_bits_they_hold(self, live: Live) -> None:
        r = room(live)
        grant_role(live, r, r.member, Permission.MANAGE_ROLES)
        path = f"/api/channels/{r.channel_id}/permissions/{r.server_id}"
        ban = str(int(Permission.BAN_MEMBERS))
        assert live.put(path, r.member, json={"type": 0, "allow": ban}).status_code == 403
        assert live.put(path, r.member, json={"type": 0, "deny": str(SEND)}).status_code == 200
        # The owner's overwrite for a role the moderator lacks, with a bit they lack: they
        # may change other bits of it, but not that one, nor delete it.
        other = live.create_role(r.owner, r.server_id, name="others")["id"]
        path = f"/api/channels/{r.channel_id}/permissions/{other}"
        live.data(live.put(path, r.owner, json={"type": 0, "allow": ban}))
        react = str(int(Permission.ADD_REACTIONS))
        assert (
            live.put(path, r.member, json={"type": 0, "allow": ban, "deny": react}).status_code
            == 200
        )
        assert live.put(path, r.member, json={"type": 0, "deny": react}).status_code == 403
        assert live.delete(path, r.member).status_code == 403


class TestDeleteOverwrite:
    def test_removes(self, live: Live) -> None:
        r = room(live)
        set_overwrite(live, r.owner, r.channel_id, r.server_id, deny=SEND)
        path = f"/api/channels/{r.channel_id}/permissions/{r.server_id}"
        assert live.data(live.delete(path, r.owner)) is None
        send(live, r.member, r.channel_id)
        assert (
            live.data(live.get(f"/api/channels/{r.channel_id}", r.owner))["permissionOverwrites"]
            == []
        )

    def test_errors(self, live: Live) -> None:
        r = room(live)
        set_overwrite(live, r.owner, r.channel_id, r.server_id, deny=SEND)
        path = f"/api/channels/{r.channel_id}/permissions"
        assert live.delete(f"{path}/{r.server_id}", r.member).status_code == 403
        assert live.delete(f"{path}/{r.member.id}", r.owner).status_code == 404
        assert live.delete(f"{path}/abc", r.owner).status_code == 404
        assert live.delete(f"{path}/{r.server_id}").status_code == 401
