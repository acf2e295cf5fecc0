"""The JSON gateway of spec 004 through real WebSockets against a running server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.client import GatewayClient, StalledClient, connect_as
from tests.live import Live, User, live_server

MESSAGES = "/api/channels/%s/messages"
# Enough ~8 KB messages to fill a socket's buffers on this kind of machine (about 290).
SLOW_MESSAGES = 400
QUICK = {
    "gateway_heartbeat_interval_ms": 400,
    "gateway_auth_timeout": 0.6,
    "presence_offline_grace": 0.2,
}


def general_channel(live: Live, user: User, server_id: str) -> str:
    channels = live.data(live.get(f"/api/servers/{server_id}/channels", user))
    return next(c["id"] for c in channels if c["type"] == 0)


def send(live: Live, user: User, channel_id: str, content: str) -> dict[str, Any]:
    data: dict[str, Any] = live.data(
        live.post(f"/api/channels/{channel_id}/messages", user, json={"content": content}), 201
    )
    return data


@pytest.fixture
def quick(backend: str, tmp_path: Path) -> Iterator[Live]:
    with live_server(backend, tmp_path, **QUICK) as server:
        yield server


@pytest.fixture
def room(live: Live) -> tuple[User, User, str, str]:
    """Alice owns a server Bob has joined; its #general channel."""
    alice, bob = live.register(), live.register()
    server_id = live.create_server(alice)
    live.join(bob, server_id, alice)
    return alice, bob, server_id, general_channel(live, alice, server_id)


class TestHandshake:
    @pytest.mark.parametrize("path", ["/", "/ws"])
    def test_hello_authenticate_ready_heartbeat(self, live: Live, path: str) -> None:
        user = live.register()
        server_id = live.create_server(user)
        client = GatewayClient(live, path)
        assert client.hello["type"] == "HELLO"
        assert client.hello["data"]["heartbeatInterval"] > 0
        ready = client.authenticate(user)
        assert ready["seq"] == 1
        assert ready["data"]["user"]["id"] == user.id
        assert ready["data"]["servers"] == [server_id]
        assert len(ready["data"]["session_id"]) >= 16
        client.send({"type": "HEARTBEAT", "seq": client.last_seq})
        assert client.wait_for("HEARTBEAT_ACK")["type"] == "HEARTBEAT_ACK"
        client.close()

    def test_bad_token_closes_4004(self, live: Live) -> None:
        client = GatewayClient(live)
        client.send({"type": "AUTHENTICATE", "token": "nope"})
        assert client.close_code() == 4004

    def test_dispatch_before_authenticate_closes_4003(self, live: Live) -> None:
        client = GatewayClient(live)
        client.send({"type": "TYPING_START", "channelId": "1"})
        assert client.close_code() == 4003

    def test_authenticate_twice_closes_4005(self, live: Live) -> None:
        user = live.register()
        client = connect_as(live, user)
        client.send({"type": "AUTHENTICATE", "token": user.token})
        assert client.close_code() == 4005


class TestChat:
    def test_message_reaches_members_as_rest_returns_it(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, _, channel_id = room
        client = connect_as(live, bob)
        sent = send(live, alice, channel_id, "hello bob")
        event = client.wait_for("MESSAGE_CREATE", id=sent["id"])
        assert event["data"] == sent
        # Sequence numbers only grow.
        assert event["seq"] > 1
        client.close()

    def test_two_clients_chat_both_ways(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, _, channel_id = room
        a, b = connect_as(live, alice), connect_as(live, bob)
        first = send(live, alice, channel_id, "ping")
        assert b.wait_for("MESSAGE_CREATE", id=first["id"])["data"]["content"] == "ping"
        second = send(live, bob, channel_id, "pong")
        assert a.wait_for("MESSAGE_CREATE", id=second["id"])["data"]["content"] == "pong"
        a.close()
        b.close()

    def test_non_member_never_receives(self, live: Live, room: tuple[User, User, str, str]) -> None:
        alice, _, _, channel_id = room
        outsider = live.register()
        own_server = live.create_server(outsider)
        own_channel = general_channel(live, outsider, own_server)
        client = connect_as(live, outsider)
        send(live, alice, channel_id, "secret")
        sentinel = send(live, outsider, own_channel, "sentinel")
        # Events leave in order: had the secret been routed here, it would come first.
        frames = client.dispatches(until="MESSAGE_CREATE")
        assert frames[-1]["data"]["id"] == sentinel["id"]
        client.close()

    def test_kicked_member_stops_receiving(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, server_id, channel_id = room
        client = connect_as(live, bob)
        kicked = live.delete(f"/api/servers/{server_id}/members/{bob.id}", alice)
        assert kicked.status_code == 200, kicked.text
        client.wait_for("MEMBER_REMOVE")
        send(live, alice, channel_id, "after the kick")
        own_channel = general_channel(live, bob, live.create_server(bob))
        sentinel = send(live, bob, own_channel, "sentinel")
        frames = [f for f in client.dispatches(until="MESSAGE_CREATE")]
        assert frames[-1]["data"]["id"] == sentinel["id"]
        client.close()

    def test_hidden_channel_stops_receiving(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, server_id, channel_id = room
        client = connect_as(live, bob)
        deny_view = live.put(
            f"/api/channels/{channel_id}/permissions/{server_id}",
            alice,
            json={"type": 0, "allow": "0", "deny": str(1 << 10)},
        )
        assert deny_view.status_code in (200, 201, 204), deny_view.text
        send(live, alice, channel_id, "hidden")
        other = live.data(
            live.post(f"/api/servers/{server_id}/channels", alice, json={"name": "open"}), 201
        )
        sentinel = send(live, alice, other["id"], "sentinel")
        frames = client.dispatches(until="MESSAGE_CREATE")
        assert frames[-1]["data"]["id"] == sentinel["id"]
        client.close()


class TestResume:
    def test_dropped_connection_resumes_with_exactly_the_missed_events(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, _, channel_id = room
        client = connect_as(live, bob)
        seen = send(live, alice, channel_id, "before")
        client.wait_for("MESSAGE_CREATE", id=seen["id"])
        session_id, last_seq = client.session_id, client.last_seq
        client.drop()
        missed = [send(live, alice, channel_id, f"missed {i}")["id"] for i in range(7)]

        again = GatewayClient(live)
        again.send(
            {"type": "RESUME", "token": bob.token, "session_id": session_id, "seq": last_seq}
        )
        frames = again.dispatches(until="RESUMED")
        replayed = [f["data"]["id"] for f in frames if f["type"] == "MESSAGE_CREATE"]
        assert replayed == missed
        seqs = [f["seq"] for f in frames if "seq" in f]
        assert seqs == list(range(last_seq + 1, last_seq + 1 + len(seqs)))
        # And the stream goes on after the resume.
        later = send(live, alice, channel_id, "after")
        assert again.wait_for("MESSAGE_CREATE")["data"]["id"] == later["id"]
        again.close()

    def test_unknown_session_is_invalid_then_authenticate_works(self, live: Live) -> None:
        user = live.register()
        client = GatewayClient(live)
        client.send({"type": "RESUME", "token": user.token, "session_id": "x" * 32, "seq": 3})
        assert client.wait_for("INVALID_SESSION")["data"] == {"resumable": False}
        assert client.authenticate(user)["type"] == "READY"
        client.close()

    def test_seq_beyond_the_stream_is_invalid(self, live: Live) -> None:
        user = live.register()
        first = connect_as(live, user)
        session_id = first.session_id
        first.drop()
        client = GatewayClient(live)
        client.send({"type": "RESUME", "token": user.token, "session_id": session_id, "seq": 999})
        assert client.wait_for("INVALID_SESSION")["data"]["resumable"] is False
        client.close()

    def test_someone_elses_session_is_invalid(self, live: Live) -> None:
        owner, thief = live.register(), live.register()
        first = connect_as(live, owner)
        client = GatewayClient(live)
        client.send(
            {"type": "RESUME", "token": thief.token, "session_id": first.session_id, "seq": 1}
        )
        assert client.wait_for("INVALID_SESSION")["type"] == "INVALID_SESSION"
        client.close()
        first.close()


class TestRobustness:
    def test_zombie_is_closed_within_one_and_a_half_intervals(self, quick: Live) -> None:
        user = quick.register()
        client = connect_as(quick, user)
        started = time.monotonic()
        assert client.close_code(timeout=5) == 4009
        assert time.monotonic() - started <= 1.5 * 0.4 + 0.5

    def test_heartbeats_keep_the_connection(self, quick: Live) -> None:
        user = quick.register()
        client = connect_as(quick, user)
        for _ in range(5):
            time.sleep(0.2)
            client.send({"type": "HEARTBEAT"})
            client.wait_for("HEARTBEAT_ACK")
        client.close()

    def test_unauthenticated_socket_is_closed(self, quick: Live) -> None:
        client = GatewayClient(quick)
        assert client.close_code(timeout=5) == 4010

    @pytest.mark.parametrize(
        ("frame", "code"),
        [("not json", 4002), ("[1, 2]", 4002), ('{"type": 5}', 4002), ('{"type": "NOPE"}', 4001)],
    )
    def test_malformed_frames(self, live: Live, frame: str, code: int) -> None:
        client = GatewayClient(live)
        client.ws.send(frame)
        assert client.close_code() == code

    def test_binary_frame(self, live: Live) -> None:
        client = GatewayClient(live)
        client.ws.send(b"\x00\x01")
        assert client.close_code() == 4002

    def test_oversized_frame(self, live: Live) -> None:
        client = GatewayClient(live)
        client.ws.send('{"type": "HEARTBEAT", "pad": "' + "x" * 20_000 + '"}')
        assert client.close_code() == 1009

    def test_frame_rate_limit(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, gateway_frame_rate="5/60") as server:
            client = connect_as(server, server.register())
            for _ in range(6):
                client.send({"type": "HEARTBEAT"})
            assert client.close_code() == 4008


class TestSlowConsumer:
    def test_a_reader_that_stops_is_cut_off_and_resume_loses_nothing(
        self, backend: str, tmp_path: Path
    ) -> None:
        settings = {"gateway_max_pending": 20, "gateway_replay_buffer": 1000}
        with live_server(backend, tmp_path, **settings) as server:
            alice, bob = server.register(), server.register()
            server_id = server.create_server(alice)
            server.join(bob, server_id, alice)
            channel_id = general_channel(server, alice, server_id)
            stalled = StalledClient(server)
            ready = stalled.authenticate(bob)
            watcher = connect_as(server, alice)
            # ~8 KB a message: about 2 MB fills the stalled socket's kernel and server
            # buffers here; then the server's writes to it wait, and its backlog passes 20.
            embeds = [{"title": "t", "description": "z" * 4000}, {"description": "w" * 1990}]
            sent: list[str] = []
            for i in range(SLOW_MESSAGES):
                body = {"content": f"{i:04d} " + "y" * 1990, "embeds": embeds}
                sent.append(
                    server.data(server.post(MESSAGES % channel_id, alice, json=body), 201)["id"]
                )
                # The watcher gets each one at once: the stalled reader blocks no one.
                assert watcher.wait_for("MESSAGE_CREATE")["data"]["id"] == sent[-1]
            ended, code, frames = stalled.read_until_closed()
            got = [f["data"]["id"] for f in frames if f["type"] == "MESSAGE_CREATE"]
            # Cut off part-way (with 4013 when the close frame still fitted in the socket).
            assert ended and code in (None, 4013)
            assert 0 < len(got) < len(sent) and got == sent[: len(got)]
            again = GatewayClient(server)
            again.send(
                {
                    "type": "RESUME",
                    "token": bob.token,
                    "session_id": ready["data"]["session_id"],
                    "seq": ready["seq"],
                }
            )
            frames = again.dispatches(until="RESUMED", timeout=10)
            replayed = [f["data"]["id"] for f in frames if f["type"] == "MESSAGE_CREATE"]
            assert replayed == sent
            with contextlib.suppress(Exception):
                again.close()
                watcher.close()


class TestTyping:
    def test_rest_and_gateway_typing_reach_the_channel(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, _, channel_id = room
        watcher = connect_as(live, alice)
        assert live.post(f"/api/channels/{channel_id}/typing", bob).status_code == 200
        event = watcher.wait_for("TYPING_START", userId=bob.id)
        assert event["data"]["channelId"] == channel_id
        assert isinstance(event["data"]["timestamp"], int)
        typist = connect_as(live, alice)
        typist.send({"type": "TYPING_START", "channelId": channel_id})
        assert watcher.wait_for("TYPING_START", userId=alice.id)["data"]["channelId"] == channel_id
        watcher.close()
        typist.close()

    def test_typing_in_an_unseen_channel_is_404(self, live: Live) -> None:
        alice, stranger = live.register(), live.register()
        channel_id = general_channel(live, alice, live.create_server(alice))
        response = live.post(f"/api/channels/{channel_id}/typing", stranger)
        assert response.status_code == 404


class TestPresence:
    def test_online_idle_invisible_offline(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, presence_offline_grace=0.2) as server:
            alice, bob = server.register(), server.register()
            server_id = server.create_server(alice)
            server.join(bob, server_id, alice)
            watcher = connect_as(server, alice)

            def status_of_bob() -> str:
                return str(server.data(server.get(f"/api/users/{bob.id}", alice))["status"])

            assert status_of_bob() == "offline"
            bob_client = connect_as(server, bob)
            assert _presence(watcher, bob) == "online"
            assert status_of_bob() == "online"

            bob_client.send({"type": "PRESENCE_UPDATE", "status": "idle"})
            assert _presence(watcher, bob) == "idle"
            bob_client.send({"type": "PRESENCE_UPDATE", "status": "invisible"})
            assert _presence(watcher, bob) == "offline"
            assert status_of_bob() == "offline"
            # Bob still sees his own choice.
            assert server.data(server.get("/api/users/me", bob))["status"] == "invisible"
            bob_client.send({"type": "PRESENCE_UPDATE", "status": "dnd"})
            assert _presence(watcher, bob) == "dnd"

            bob_client.close()
            assert _presence(watcher, bob) == "offline"
            assert status_of_bob() == "offline"
            watcher.close()


def _presence(client: GatewayClient, user: User) -> str:
    return str(
        client.wait_for("PRESENCE_UPDATE", user={"id": user.id, "username": user.username})["data"][
            "status"
        ]
    )


class TestLogout:
    def test_logout_closes_the_sockets_of_that_login(self, live: Live) -> None:
        user = live.register()
        client = connect_as(live, user)
        session_id, seq = client.session_id, client.last_seq
        assert live.post("/api/auth/logout", user).status_code == 200
        assert client.close_code() == 4004
        again = GatewayClient(live)
        again.send({"type": "RESUME", "token": user.token, "session_id": session_id, "seq": seq})
        assert again.close_code() == 4004  # the token itself is revoked too


class TestChannelVisibilityEvents:
    def test_members_learn_of_a_deleted_channel(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, server_id, _ = room
        created = live.data(
            live.post(f"/api/servers/{server_id}/channels", alice, json={"name": "doomed"}), 201
        )
        client = connect_as(live, bob)
        assert live.delete(f"/api/channels/{created['id']}", alice).status_code == 200
        assert client.wait_for("CHANNEL_DELETE", id=created["id"])["type"] == "CHANNEL_DELETE"
        client.close()

    def test_losing_sight_of_a_channel_is_the_last_event_from_it(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, server_id, channel_id = room
        client = connect_as(live, bob)
        send(live, alice, channel_id, "warm the permission picture")
        client.wait_for("MESSAGE_CREATE")
        hide = [{"id": server_id, "type": 0, "allow": "0", "deny": str(1 << 10)}]
        response = live.patch(
            f"/api/channels/{channel_id}", alice, json={"permissionOverwrites": hide}
        )
        assert response.status_code == 200, response.text
        assert client.wait_for("CHANNEL_UPDATE", id=channel_id)["type"] == "CHANNEL_UPDATE"
        client.close()


class TestModeratorOnlyEvents:
    def test_invites_and_bans_reach_only_those_who_may_list_them(
        self, live: Live, room: tuple[User, User, str, str]
    ) -> None:
        alice, bob, server_id, channel_id = room
        owner, member = connect_as(live, alice), connect_as(live, bob)
        invite = live.data(live.post(f"/api/servers/{server_id}/invites", alice, json={}), 201)
        assert owner.wait_for("INVITE_CREATE")["data"]["code"] == invite["code"]
        outsider = live.register()
        assert live.put(
            f"/api/servers/{server_id}/bans/{outsider.id}", alice, json={}
        ).status_code in (
            200,
            201,
        )
        owner.wait_for("BAN_ADD")
        sentinel = send(live, alice, channel_id, "sentinel")
        frames = member.dispatches(until="MESSAGE_CREATE")
        assert frames[-1]["data"]["id"] == sentinel["id"]
        assert not [f for f in frames if f["type"] in ("INVITE_CREATE", "BAN_ADD")]
        owner.close()
        member.close()
