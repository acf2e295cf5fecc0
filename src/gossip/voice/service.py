"""Voice signaling: who is connected to which voice channel, and how they reach the media.

Joining a voice channel (CONNECT, room under its user limit) records the user's voice state
and answers a short-lived token for the media server, its endpoint and an ssrc unique in
the channel. A user is in one voice channel at most: joining another moves them. The state
goes when they leave, when their last gateway connection goes away, or when they leave the
server. Every change is a VOICE_STATE_UPDATE to the members who can see the channel. The
media plane itself is not Gossip's (docs/voice.md).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import access_channel
from gossip.auth.subject import Actor
from gossip.db.models import Channel, User, VoiceState
from gossip.events import Audience, emit
from gossip.kit.errors import Forbidden, ValidationFailed
from gossip.kit.permissions import Permission
from gossip.kit.timefmt import iso, utcnow
from gossip.servers import repository as servers
from gossip.users import repository as users
from gossip.voice import repository, tokens
from gossip.voice.tokens import VoiceConfig

VOICE = 2
MAX_USER_LIMIT = 99  # Discord's
SSRC_MAX = 2**32 - 1  # an RTP ssrc is 32 bits; 0 is left out


def check_user_limit(value: int) -> int:
    if not 0 <= value <= MAX_USER_LIMIT:
        raise ValidationFailed.field("userLimit", f"must be 0-{MAX_USER_LIMIT} (0: no limit)")
    return value


def _check_voice(channel: Channel) -> None:
    if channel.type != VOICE:
        raise ValidationFailed("Not a voice channel")


def new_ssrc(taken: set[int]) -> int:
    while True:
        ssrc = secrets.randbelow(SSRC_MAX) + 1
        if ssrc not in taken:
            return ssrc


def state_payload(
    user: User, server_id: int, channel_id: int | None, state: VoiceState | None = None
) -> dict[str, Any]:
    """A voice state as `/api` lists it and VOICE_STATE_UPDATE carries it; channelId null
    means the user left voice."""
    return {
        "serverId": str(server_id),
        "channelId": None if channel_id is None else str(channel_id),
        "userId": str(user.id),
        "user": {"id": str(user.id), "username": user.username, "avatar": user.avatar},
        "ssrc": state.ssrc if state is not None else None,
        "joinedAt": iso(state.joined_at) if state is not None else None,
    }


def _emit(session: AsyncSession, data: dict[str, Any], server_id: int, channel_id: int) -> None:
    # The channel's audience: the gateway passes it to members who can see that channel.
    emit(
        session,
        "VOICE_STATE_UPDATE",
        data,
        Audience(server_id=server_id, channel_id=channel_id),
    )


def _emit_left(session: AsyncSession, user: User, state: VoiceState) -> None:
    _emit(session, state_payload(user, state.server_id, None), state.server_id, state.channel_id)


async def do_join(
    session: AsyncSession, actor: Actor, channel_id: int | None, config: VoiceConfig
) -> dict[str, Any]:
    """Precondition: CONNECT in a voice channel the actor sees, with room under its user
    limit (MOVE_MEMBERS passes a full channel, as in Discord). Joining again renews the
    session; joining another channel moves the user. Emits VOICE_STATE_UPDATE (and one
    with channelId null to the channel left behind). Answers {token, endpoint, ssrc,
    sessionId, channelId}."""
    found = (await access_channel(session, actor, channel_id)).require(Permission.CONNECT)
    channel = found.channel
    _check_voice(channel)
    assert channel.server_id is not None  # voice channels belong to servers
    # Serialises joins within the server on PostgreSQL, so two joins cannot both take the
    # last place; SQLite's writers are serialised already.
    await servers.lock(session, channel.server_id)
    present = await repository.in_channel(session, channel.id)
    others = [s for s in present if s.user_id != actor.user_id]
    if (
        channel.user_limit
        and len(others) >= channel.user_limit
        and not found.permissions & Permission.MOVE_MEMBERS
    ):
        raise Forbidden("This voice channel is full")
    user = await users.get(session, actor.user_id)
    assert user is not None  # the actor was authenticated in this request
    before = await repository.get(session, actor.user_id)
    # Not added to the session: the statement below writes it (an upsert), this shows it.
    state = VoiceState(
        user_id=user.id,
        channel_id=channel.id,
        server_id=channel.server_id,
        ssrc=new_ssrc({s.ssrc for s in others}),
        session_id=secrets.token_hex(16),
        joined_at=utcnow(),
    )
    await repository.put(
        session,
        user_id=state.user_id,
        channel_id=state.channel_id,
        server_id=state.server_id,
        ssrc=state.ssrc,
        session_id=state.session_id,
        joined_at=state.joined_at,
    )
    if before is not None and before.channel_id != channel.id:
        # Those who see only the old channel must learn that the user left it.
        _emit_left(session, user, before)
    _emit(
        session,
        state_payload(user, channel.server_id, channel.id, state),
        channel.server_id,
        channel.id,
    )
    return {
        "token": tokens.issue(
            config,
            user_id=user.id,
            channel_id=channel.id,
            server_id=channel.server_id,
            session_id=state.session_id,
            ssrc=state.ssrc,
        ),
        "endpoint": config.endpoint,
        "ssrc": state.ssrc,
        "sessionId": state.session_id,
        "channelId": str(channel.id),
    }


async def do_leave(session: AsyncSession, actor: Actor, channel_id: int | None) -> None:
    """Leaves the voice channel if the actor is in it, even one they can no longer see;
    otherwise a no-op for a voice channel they see (404 if they do not, 400 for others).
    Emits VOICE_STATE_UPDATE with channelId null."""
    state = await repository.get(session, actor.user_id)
    if state is not None and state.channel_id == channel_id:
        await repository.remove(session, actor.user_id)
        user = await users.get(session, actor.user_id)
        assert user is not None
        _emit_left(session, user, state)
        return
    _check_voice((await access_channel(session, actor, channel_id)).channel)


async def list_states(
    session: AsyncSession, actor: Actor, channel_id: int | None
) -> list[dict[str, Any]]:
    """Who is connected to a voice channel the actor sees, in the order they joined."""
    channel = (await access_channel(session, actor, channel_id)).channel
    _check_voice(channel)
    assert channel.server_id is not None
    return [
        state_payload(user, channel.server_id, channel.id, state)
        for state, user in await repository.in_channel_with_users(session, channel.id)
    ]


async def do_clear_user(session: AsyncSession, user_id: int) -> bool:
    """The user's last gateway connection went away: they leave voice. Whether they were in."""
    state = await repository.get(session, user_id)
    if state is None:
        return False
    await repository.remove(session, user_id)
    user = await users.get(session, user_id)
    if user is not None:
        _emit_left(session, user, state)
    return True


async def do_clear_in_server(session: AsyncSession, server_id: int, user: User) -> None:
    """The user left the server (left, kicked or banned): they leave its voice channels."""
    state = await repository.get(session, user.id)
    if state is not None and state.server_id == server_id:
        await repository.remove(session, user.id)
        _emit_left(session, user, state)
