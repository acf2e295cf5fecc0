"""Thread events through real WebSockets: THREAD_* and MESSAGE_* in a thread reach exactly
those who can see the thread's parent channel."""

from __future__ import annotations

from typing import Any

from gossip.kit.permissions import Permission
from tests.gateway.client import GatewayClient, connect_as
from tests.live import Live, User


def general_channel(live: Live, user: User, server_id: str) -> str:
    channels = live.data(live.get(f"/api/servers/{server_id}/channels", user))
    return next(c["id"] for c in channels if c["type"] == 0)


def send(live: Live, user: User, channel_id: str, content: str) -> dict[str, Any]:
    data: dict[str, Any] = live.data(
        live.post(f"/api/channels/{channel_id}/messages", user, json={"content": content}), 201
    )
    return data


def until_sentinel(client: GatewayClient, sentinel: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dispatch up to the sentinel message. Events leave in order, so anything routed
    to this client before the sentinel is among them."""
    frames = []
    while True:
        frame = client.recv()
        frames.append(frame)
        if frame["type"] == "MESSAGE_CREATE" and frame["data"]["id"] == sentinel["id"]:
            return frames


def _chat(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Message and thread dispatches (presence and the like may interleave)."""
    return [f for f in frames if f["type"].startswith(("MESSAGE_", "THREAD_"))]


class TestThreadEvents:
    def test_reach_those_who_see_the_parent_and_nobody_else(self, live: Live) -> None:
        alice, bob, carol = live.register(), live.register(), live.register()
        server_id = live.create_server(alice)
        live.join(bob, server_id, alice)
        live.join(carol, server_id, alice)
        general = general_channel(live, alice, server_id)
        # Carol cannot see the parent channel; both may post in threads.
        hide = {"type": 1, "allow": "0", "deny": str(int(Permission.VIEW_CHANNEL))}
        live.data(live.put(f"/api/channels/{general}/permissions/{carol.id}", alice, json=hide))
        role = live.create_role(
            alice,
            server_id,
            name="threads",
            permissions=str(int(Permission.SEND_MESSAGES_IN_THREADS)),
        )
        for user in (bob, carol):
            live.give_role(alice, server_id, user.id, role["id"])
        lobby = live.data(
            live.post(f"/api/servers/{server_id}/channels", alice, json={"name": "lobby"}), 201
        )
        b, c = connect_as(live, bob), connect_as(live, carol)

        start = send(live, alice, general, "a topic")
        path = f"/api/channels/{general}/messages/{start['id']}/threads"
        thread = live.data(live.post(path, alice, json={"name": "topic"}), 201)
        created = b.wait_for("THREAD_CREATE", id=thread["id"])
        assert created["data"] == thread
        b.wait_for("THREAD_MEMBERS_UPDATE", id=thread["id"])

        said = send(live, alice, thread["id"], "in the thread")
        event = b.wait_for("MESSAGE_CREATE", id=said["id"])
        assert event["data"] == said and event["data"]["channelId"] == thread["id"]

        joined = live.put(f"/api/channels/{thread['id']}/thread-members/@me", bob)
        assert joined.status_code == 200, joined.text
        members = b.wait_for("THREAD_MEMBERS_UPDATE", id=thread["id"])["data"]
        assert members["serverId"] == server_id and members["memberCount"] == 2
        assert [m["userId"] for m in members["addedMembers"]] == [bob.id]
        assert members["removedMemberIds"] == []

        renamed = live.data(live.patch(f"/api/channels/{thread['id']}", alice, json={"name": "x"}))
        assert b.wait_for("THREAD_UPDATE", id=thread["id"])["data"] == renamed

        # Carol received none of it: her next dispatch is the sentinel.
        sentinel = send(live, alice, lobby["id"], "sentinel")
        frames = until_sentinel(c, sentinel)
        assert _chat(frames) == [frames[-1]], frames

        deleted = live.delete(f"/api/channels/{thread['id']}", alice)
        assert deleted.status_code == 200, deleted.text
        gone = b.wait_for("THREAD_DELETE", id=thread["id"])["data"]
        assert gone == {"id": thread["id"], "serverId": server_id, "parentId": general, "type": 11}
        sentinel = send(live, alice, lobby["id"], "sentinel 2")
        frames = until_sentinel(c, sentinel)
        assert _chat(frames) == [frames[-1]], frames
        b.close()
        c.close()

    def test_a_thread_follows_its_parents_visibility_changes(self, live: Live) -> None:
        alice, bob = live.register(), live.register()
        server_id = live.create_server(alice)
        live.join(bob, server_id, alice)
        general = general_channel(live, alice, server_id)
        start = send(live, alice, general, "a topic")
        path = f"/api/channels/{general}/messages/{start['id']}/threads"
        thread = live.data(live.post(path, alice, json={"name": "topic"}), 201)
        lobby = live.data(
            live.post(f"/api/servers/{server_id}/channels", alice, json={"name": "lobby"}), 201
        )
        b = connect_as(live, bob)
        first = send(live, alice, thread["id"], "seen")
        b.wait_for("MESSAGE_CREATE", id=first["id"])
        # The parent is hidden from @everyone: the thread goes dark with it.
        hide = {"type": 0, "allow": "0", "deny": str(int(Permission.VIEW_CHANNEL))}
        live.data(live.put(f"/api/channels/{general}/permissions/{server_id}", alice, json=hide))
        send(live, alice, thread["id"], "unseen")
        sentinel = send(live, alice, lobby["id"], "sentinel")
        frames = until_sentinel(b, sentinel)
        assert _chat(frames) == [frames[-1]], frames
        b.close()
