"""Voice signaling through real HTTP and the gateway: join, leave, states, limits, events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from gossip.kit.permissions import Permission
from gossip.voice.tokens import verify
from tests.gateway.client import connect_as
from tests.live import Live, User, error_code, live_server
from tests.surfaces.chirp.chat import Room, channel, deny_everyone, grant_role, room


def voice_channel(live: Live, r: Room, **body: Any) -> str:
    body.setdefault("name", "lounge")
    return str(channel(live, r.owner, r.server_id, type=2, **body)["id"])


def join(live: Live, user: User, channel_id: str) -> dict[str, Any]:
    data: dict[str, Any] = live.data(live.post(f"/api/voice/channels/{channel_id}/join", user))
    return data


def states(live: Live, user: User, channel_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = live.data(
        live.get(f"/api/voice/channels/{channel_id}/states", user)
    )
    return data


def voice_secret(live: Live) -> str:
    """No GOSSIP_VOICE_SECRET in the shared server: the one generated into its data dir."""
    return (live.settings.data_dir / "voice.key").read_text().strip()


class TestJoinVoice:
    def test_token_endpoint_ssrc(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        before = int(time.time())
        joined = join(live, r.member, vc)
        assert joined["endpoint"] is None  # no media server configured here
        assert 1 <= joined["ssrc"] < 2**32
        assert joined["channelId"] == vc
        claims = verify(joined["token"], voice_secret(live))
        assert claims["user"] == claims["sub"] == r.member.id
        assert (claims["channel"], claims["server"]) == (vc, r.server_id)
        assert claims["session"] == joined["sessionId"]
        assert claims["ssrc"] == joined["ssrc"]
        assert claims["exp"] - claims["iat"] == 60 and claims["iat"] >= before - 1
        with pytest.raises(jwt.InvalidTokenError):
            verify(joined["token"], "some other secret, long enough for HS256")

    def test_configured_endpoint_and_secret(self, backend: str, tmp_path: Path) -> None:
        secret = "the shared secret of a media server, 32+ bytes"
        with live_server(
            backend,
            tmp_path,
            voice_endpoint="voice.example.com:443",
            voice_secret=secret,
            voice_token_ttl=30,
        ) as server:
            r = room(server)
            joined = join(server, r.member, voice_channel(server, r))
            assert joined["endpoint"] == "voice.example.com:443"
            claims = verify(joined["token"], secret)
            assert claims["exp"] - claims["iat"] == 30
            assert not (tmp_path / "voice.key").exists()

    def test_needs_connect(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        deny_everyone(live, r, Permission.CONNECT, channel_id=vc)
        refused = live.post(f"/api/voice/channels/{vc}/join", r.member)
        assert refused.status_code == 403 and "CONNECT" in refused.text
        # A server role's CONNECT does not lift the channel's @everyone deny.
        grant_role(live, r, r.member, Permission.CONNECT)
        assert live.post(f"/api/voice/channels/{vc}/join", r.member).status_code == 403
        assert states(live, r.owner, vc) == []

    def test_not_a_voice_channel(self, live: Live) -> None:
        r = room(live)
        response = live.post(f"/api/voice/channels/{r.channel_id}/join", r.member)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"

    def test_outsiders(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        assert live.post(f"/api/voice/channels/{vc}/join", live.register()).status_code == 404
        assert live.post(f"/api/voice/channels/{vc}/join").status_code == 401
        assert live.post("/api/voice/channels/x/join", r.member).status_code == 404

    def test_user_limit(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r, userLimit=1)
        third = live.register()
        live.join(third, r.server_id, r.owner)
        join(live, r.member, vc)
        join(live, r.member, vc)  # rejoining does not count twice
        full = live.post(f"/api/voice/channels/{vc}/join", third)
        assert full.status_code == 403 and "full" in full.json()["error"]["message"]
        join(live, r.owner, vc)  # MOVE_MEMBERS passes a full channel, as in Discord
        assert {s["userId"] for s in states(live, r.owner, vc)} == {r.member.id, r.owner.id}

    def test_one_channel_at_a_time_and_unique_ssrc(self, live: Live) -> None:
        r = room(live)
        first, second = voice_channel(live, r, name="one"), voice_channel(live, r, name="two")
        others = [live.register() for _ in range(4)]
        for user in others:
            live.join(user, r.server_id, r.owner)
        ssrcs = {join(live, user, first)["ssrc"] for user in [*others, r.member]}
        assert len(ssrcs) == 5
        join(live, r.member, second)
        assert r.member.id not in {s["userId"] for s in states(live, r.owner, first)}
        assert [s["userId"] for s in states(live, r.owner, second)] == [r.member.id]

    def test_join_emits_voice_state_update_to_those_who_see_the_channel(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        hidden = voice_channel(live, r, name="hidden")
        deny_everyone(live, r, Permission.VIEW_CHANNEL, channel_id=hidden)
        watcher = connect_as(live, r.member)
        try:
            join(live, r.owner, hidden)  # the member cannot see it: no event for them
            joined = join(live, r.owner, vc)
            frame = watcher.wait_for("VOICE_STATE_UPDATE")
            assert frame["data"]["channelId"] == vc  # the hidden join never arrived
            assert frame["data"]["userId"] == r.owner.id
            assert frame["data"]["ssrc"] == joined["ssrc"]
            assert frame["data"]["serverId"] == r.server_id
        finally:
            watcher.close()


class TestLeaveVoice:
    def test_leave_is_idempotent_and_announced(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        join(live, r.member, vc)
        watcher = connect_as(live, r.owner)
        try:
            live.data(live.post(f"/api/voice/channels/{vc}/leave", r.member))
            frame = watcher.wait_for("VOICE_STATE_UPDATE", userId=r.member.id)
            assert frame["data"]["channelId"] is None
        finally:
            watcher.close()
        assert states(live, r.owner, vc) == []
        live.data(live.post(f"/api/voice/channels/{vc}/leave", r.member))  # not in it: fine

    def test_leaving_another_channel_keeps_the_state(self, live: Live) -> None:
        r = room(live)
        first, second = voice_channel(live, r, name="one"), voice_channel(live, r, name="two")
        join(live, r.member, first)
        live.data(live.post(f"/api/voice/channels/{second}/leave", r.member))
        assert [s["userId"] for s in states(live, r.owner, first)] == [r.member.id]

    def test_errors(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        assert live.post(f"/api/voice/channels/{vc}/leave", live.register()).status_code == 404
        assert live.post(f"/api/voice/channels/{r.channel_id}/leave", r.member).status_code == 400
        assert live.post(f"/api/voice/channels/{vc}/leave").status_code == 401

    def test_leaving_the_server_leaves_its_voice(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        join(live, r.member, vc)
        live.data(live.delete(f"/api/servers/{r.server_id}/members/{r.member.id}", r.owner))
        assert states(live, r.owner, vc) == []


class TestVoiceStates:
    def test_lists_who_is_connected(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        assert states(live, r.member, vc) == []
        joined = join(live, r.member, vc)
        (state,) = states(live, r.member, vc)
        assert state["userId"] == r.member.id and state["channelId"] == vc
        assert state["user"]["username"] == r.member.username
        assert state["ssrc"] == joined["ssrc"] and state["joinedAt"].endswith("Z")

    def test_errors(self, live: Live) -> None:
        r = room(live)
        vc = voice_channel(live, r)
        assert live.get(f"/api/voice/channels/{vc}/states", live.register()).status_code == 404
        assert live.get(f"/api/voice/channels/{r.channel_id}/states", r.member).status_code == 400
        assert live.get(f"/api/voice/channels/{vc}/states").status_code == 401


class TestVoiceDisconnect:
    def test_last_connection_gone_clears_the_state(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, presence_offline_grace=0.2) as server:
            r = room(server)
            vc = voice_channel(server, r)
            speaker = connect_as(server, r.member)
            watcher = connect_as(server, r.owner)
            try:
                join(server, r.member, vc)
                watcher.wait_for("VOICE_STATE_UPDATE", channelId=vc)
                speaker.drop()
                frame = watcher.wait_for("VOICE_STATE_UPDATE", userId=r.member.id, timeout=10)
                assert frame["data"]["channelId"] is None
                assert states(server, r.owner, vc) == []
            finally:
                watcher.close()


class TestUserLimitField:
    def test_create_update_and_shape(self, live: Live) -> None:
        r = room(live)
        made = channel(live, r.owner, r.server_id, name="vc", type=2, userLimit=5)
        assert made["userLimit"] == 5
        path = f"/api/channels/{made['id']}"
        assert live.data(live.patch(path, r.owner, json={"userLimit": 0}))["userLimit"] == 0
        assert "userLimit" not in live.data(live.get(f"/api/channels/{r.channel_id}", r.owner))
        for body in ({"userLimit": 100}, {"userLimit": -1}, {"userLimit": None}):
            assert live.patch(path, r.owner, json=body).status_code == 400, body
        create = f"/api/servers/{r.server_id}/channels"
        text = live.post(create, r.owner, json={"name": "t", "userLimit": 3})
        assert text.status_code == 400
        assert (
            live.patch(f"/api/channels/{r.channel_id}", r.owner, json={"userLimit": 2}).status_code
            == 400
        )
