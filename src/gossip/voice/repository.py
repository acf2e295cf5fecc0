"""SQL for voice states: one row per connected user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import User, VoiceState


async def get(session: AsyncSession, user_id: int) -> VoiceState | None:
    return await session.scalar(select(VoiceState).where(VoiceState.user_id == user_id))


async def in_channel(session: AsyncSession, channel_id: int) -> list[VoiceState]:
    rows = await session.scalars(select(VoiceState).where(VoiceState.channel_id == channel_id))
    return list(rows)


async def in_channel_with_users(
    session: AsyncSession, channel_id: int
) -> list[tuple[VoiceState, User]]:
    rows = await session.execute(
        select(VoiceState, User)
        .join(User, User.id == VoiceState.user_id)
        .where(VoiceState.channel_id == channel_id)
        .order_by(VoiceState.joined_at, VoiceState.user_id)
    )
    return [(state, user) for state, user in rows]


async def put(
    session: AsyncSession,
    *,
    user_id: int,
    channel_id: int,
    server_id: int,
    ssrc: int,
    session_id: str,
    joined_at: datetime,
) -> None:
    """The user's one state, inserted or moved in one statement: two joins of the same user
    racing each other cannot both insert."""
    values = {
        "user_id": user_id,
        "channel_id": channel_id,
        "server_id": server_id,
        "ssrc": ssrc,
        "session_id": session_id,
        "joined_at": joined_at,
    }
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(VoiceState).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[VoiceState.user_id],
        set_={k: v for k, v in values.items() if k != "user_id"},
    )
    await session.execute(statement)


async def remove(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(VoiceState).where(VoiceState.user_id == user_id))
