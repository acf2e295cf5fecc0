"""Spec 002's Socket.IO through the official python-socketio client, beside Chirp clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.client import GatewayClient, connect_as
from tests.live import Live
from tests.surfaces.legacy.client import Account, Listener, messages, new_account, open_channel


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    """Connections opened by a test, closed after it whatever happens."""
    opened: list[Listener] = []
    yield opened
    for listener in opened:
        listener.close()


def connect(
    live: Live,
    opened: list[Listener],
    account: Account | None,
    *channels: str,
    transports: list[str] | None = None,
    auth: dict[str, Any] | None = None,
) -> Listener:
    token = account.token if account else None
    listener = Listener(live.url, token, channels, transports=transports, auth=auth)
    opened.append(listener)
    return listener


def author(account: Account) -> dict[str, str]:
    return {"avatarURL": "", "id": account.id, "username": account.username}


class TestConversation:
    @pytest.mark.parametrize("transport", ["polling", "websocket"])
    def test_messages_both_ways_and_a_delete(
        self, legacy: Live, listeners: list[Listener], transport: str
    ) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        channel = open_channel(legacy, alice, bob.id)
        # The default client starts polling and upgrades; the other goes straight to a socket.
        transports = None if transport == "polling" else ["websocket"]
        to_alice = connect(legacy, listeners, alice, channel, transports=transports)
        to_bob = connect(legacy, listeners, bob, channel)

        to_alice.emit("message", {"content": "hello bob", "channel": channel})
        received = to_bob.wait_for("message", content="hello bob")
        assert set(received) == {"author", "channel_id", "content", "id"}
        assert received["author"] == author(alice) and received["channel_id"] == channel
        # Every listener of the channel hears it, the sender too.
        assert to_alice.wait_for("message", content="hello bob") == received

        to_bob.emit("message", {"content": "hi alice", "channel": channel})
        reply = to_alice.wait_for("message", content="hi alice")
        assert reply["author"] == author(bob)

        stored = messages(legacy, alice, channel)
        assert [(m["id"], m["content"]) for m in stored] == [
            (received["id"], "hello bob"),
            (reply["id"], "hi alice"),
        ]

        to_alice.emit("messageDeleted", {"channel": channel, "id": received["id"]})
        gone = {"channel": channel, "id": received["id"]}
        assert to_bob.wait_for("messageDeleted") == gone
        assert to_alice.wait_for("messageDeleted") == gone
        assert [m["id"] for m in messages(legacy, bob, channel)] == [reply["id"]]

    def test_only_the_author_deletes(self, legacy: Live, listeners: list[Listener]) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        channel = open_channel(legacy, alice, bob.id)
        to_alice = connect(legacy, listeners, alice, channel)
        to_bob = connect(legacy, listeners, bob, channel)
        to_alice.emit("message", {"content": "mine", "channel": channel})
        mine = to_bob.wait_for("message", content="mine")
        to_bob.emit("messageDeleted", {"channel": channel, "id": mine["id"]})
        # A sync point after the refused delete: one message later, nothing was deleted.
        to_bob.emit("message", {"content": "after", "channel": channel})
        to_alice.wait_for("message", content="after")
        assert not [e for e in to_alice.drain() if e[0] == "messageDeleted"]
        assert [m["content"] for m in messages(legacy, alice, channel)] == ["mine", "after"]

    def test_sending_checks_membership(self, legacy: Live, listeners: list[Listener]) -> None:
        alice, bob, mallory = new_account(legacy), new_account(legacy), new_account(legacy)
        channel = open_channel(legacy, alice, bob.id)
        to_bob = connect(legacy, listeners, bob, channel)
        to_mallory = connect(legacy, listeners, mallory, channel)
        to_mallory.emit("message", {"content": "let me in", "channel": channel})
        for malformed in ({"content": "no channel"}, {"channel": channel}, "text", None):
            to_mallory.client.emit("message", malformed)
        to_alice = connect(legacy, listeners, alice, channel)
        to_alice.emit("message", {"content": "sync", "channel": channel})
        to_bob.wait_for("message", content="sync")
        assert [m["content"] for m in messages(legacy, bob, channel)] == ["sync"]
        # Naming a channel of others in the handshake does not let Mallory listen either.
        assert to_mallory.drain() == []


class TestHandshake:
    def test_without_a_valid_token_it_connects_and_hears_nothing(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        channel = open_channel(legacy, alice, bob.id)
        anonymous = connect(legacy, listeners, None, channel)
        forged = Listener(legacy.url, "gl_1.forged", [channel])
        listeners.append(forged)
        assert anonymous.client.connected and forged.client.connected
        forged.emit("message", {"content": "forged", "channel": channel})
        to_bob = connect(legacy, listeners, bob, channel)
        to_alice = connect(legacy, listeners, alice, channel)
        to_alice.emit("message", {"content": "private", "channel": channel})
        to_bob.wait_for("message", content="private")
        assert anonymous.drain() == [] and forged.drain(0) == []
        assert [m["content"] for m in messages(legacy, bob, channel)] == ["private"]

    def test_only_the_channels_named_are_heard(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice, bob, carol = new_account(legacy), new_account(legacy), new_account(legacy)
        with_bob = open_channel(legacy, alice, bob.id)
        with_carol = open_channel(legacy, alice, carol.id)
        to_alice = connect(legacy, listeners, alice, with_bob)
        to_carol = connect(legacy, listeners, carol, with_carol)
        to_bob = connect(legacy, listeners, bob, with_bob)
        to_carol.emit("message", {"content": "unheard", "channel": with_carol})
        to_carol.wait_for("message", content="unheard")
        to_bob.emit("message", {"content": "heard", "channel": with_bob})
        assert to_alice.wait_for("message")["content"] == "heard"

    def test_the_auth_object_works_for_browsers(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        channel = open_channel(legacy, alice, bob.id)
        to_bob = connect(legacy, listeners, None, auth={"token": bob.token, "channels": channel})
        to_alice = connect(legacy, listeners, alice, channel)
        to_alice.emit("message", {"content": "via auth", "channel": channel})
        assert to_bob.wait_for("message")["content"] == "via auth"


class TestChannelCreate:
    def test_the_other_user_hears_of_it_and_both_listen_at_once(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice, bob = new_account(legacy), new_account(legacy)
        to_alice = connect(legacy, listeners, alice)
        to_bob = connect(legacy, listeners, bob)
        channel = open_channel(legacy, alice, bob.id)
        assert to_bob.wait_for("channelCreate") == {"channel_id": channel}
        # Without reconnecting, both hear the new channel's messages.
        to_bob.emit("message", {"content": "thanks", "channel": channel})
        to_alice.wait_for("message", content="thanks")
        to_bob.wait_for("message", content="thanks")
        # The one who created it was answered by /create-channel, not told again.
        assert not [e for e in to_alice.drain() if e[0] == "channelCreate"]

    def test_a_dm_opened_from_chirp_reaches_the_legacy_user(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice = new_account(legacy)
        carol = legacy.register()
        to_alice = connect(legacy, listeners, alice)
        response = legacy.post("/api/users/me/channels", carol, json={"recipients": [alice.id]})
        channel = legacy.data(response, 201)["id"]
        assert to_alice.wait_for("channelCreate") == {"channel_id": channel}


class TestWithChirp:
    def test_a_socketio_message_reaches_the_chirp_gateway(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice = new_account(legacy)
        carol = legacy.register()
        channel = open_channel(legacy, alice, carol.id)
        gateway: GatewayClient = connect_as(legacy, carol)
        try:
            to_alice = connect(legacy, listeners, alice, channel)
            to_alice.emit("message", {"content": "from socket.io", "channel": channel})
            sent = to_alice.wait_for("message", content="from socket.io")
            frame = gateway.wait_for("MESSAGE_CREATE", id=sent["id"])
            assert frame["data"]["content"] == "from socket.io"
            assert frame["data"]["channelId"] == channel
            assert frame["data"]["author"]["id"] == alice.id
            # ... and it is in Chirp's REST history of the DM.
            history = legacy.data(legacy.get(f"/api/channels/{channel}/messages", carol))
            assert [m["id"] for m in history] == [sent["id"]]
            to_alice.emit("messageDeleted", {"channel": channel, "id": sent["id"]})
            deleted = gateway.wait_for("MESSAGE_DELETE", id=sent["id"])
            assert deleted["data"]["channelId"] == channel
        finally:
            gateway.close()

    def test_a_chirp_rest_message_reaches_socketio(
        self, legacy: Live, listeners: list[Listener]
    ) -> None:
        alice = new_account(legacy)
        carol = legacy.register()
        channel = open_channel(legacy, alice, carol.id)
        to_alice = connect(legacy, listeners, alice, channel)
        response = legacy.post(
            f"/api/channels/{channel}/messages", carol, json={"content": "from chirp"}
        )
        sent = legacy.data(response, 201)
        received = to_alice.wait_for("message", content="from chirp")
        assert received == {
            "author": {"avatarURL": "", "id": carol.id, "username": carol.username},
            "channel_id": channel,
            "content": "from chirp",
            "id": sent["id"],
        }
        legacy.data(legacy.delete(f"/api/channels/{channel}/messages/{sent['id']}", carol))
        assert to_alice.wait_for("messageDeleted") == {"channel": channel, "id": sent["id"]}

    @pytest.mark.parametrize("path", ["/", "/ws"])
    def test_the_chirp_gateway_still_answers(self, legacy: Live, path: str) -> None:
        carol = legacy.register()
        gateway = connect_as(legacy, carol, path)
        try:
            assert gateway.session_id
        finally:
            gateway.close()
