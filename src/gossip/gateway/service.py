"""Rules behind gateway actions: what READY says, typing, and choosing a status."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import access_channel
from gossip.auth.subject import Actor
from gossip.events import Audience, emit
from gossip.kit.errors import NotFound
from gossip.servers import repository as servers
from gossip.threads import send_permission
from gossip.users import repository as users


@dataclass(frozen=True, slots=True)
class ReadyState:
    user: dict[str, Any]
    server_ids: list[int]
    status: str


async def ready_state(session: AsyncSession, actor: Actor) -> ReadyState:
    user = await users.get(session, actor.user_id)
    if user is None:
        raise NotFound("User")
    return ReadyState(
        user={
            "id": str(user.id),
            "username": user.username,
            "avatar": user.avatar,
            "status": user.status,
            "bot": user.bot,
        },
        server_ids=await servers.server_ids_of(session, user.id),
        status=user.status,
    )


async def do_start_typing(session: AsyncSession, actor: Actor, channel_id: int | None) -> None:
    """Announces that the actor is typing in a channel they may send messages to."""
    access = await access_channel(session, actor, channel_id)
    access.require(send_permission(access.channel))  # SEND_MESSAGES_IN_THREADS in a thread
    channel = access.channel
    data: dict[str, Any] = {
        "channelId": str(channel.id),
        "userId": str(actor.user_id),
        "timestamp": int(time.time() * 1000),
    }
    if channel.server_id is not None:
        data["serverId"] = str(channel.server_id)
    audience = (
        Audience(server_id=channel.server_id, channel_id=channel.id)
        if channel.server_id is not None
        else Audience(channel_id=channel.id, user_ids=await _dm_recipients(session, channel.id))
    )
    emit(session, "TYPING_START", data, audience)


async def _dm_recipients(session: AsyncSession, channel_id: int) -> tuple[int, ...]:
    from gossip.gateway import repository

    return tuple(await repository.dm_recipients(session, channel_id))
