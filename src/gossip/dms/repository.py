"""SQL for direct-message channels (types 1 and 3) and their participants."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, DMRecipient, User


async def channels_of(session: AsyncSession, user_id: int) -> list[Channel]:
    """The user's DMs, the most recently active first."""
    rows = await session.scalars(
        select(Channel)
        .join(DMRecipient, DMRecipient.channel_id == Channel.id)
        .where(DMRecipient.user_id == user_id)
        .order_by(func.coalesce(Channel.last_message_id, Channel.id).desc(), Channel.id.desc())
    )
    return list(rows)


async def participants(session: AsyncSession, channel_ids: Sequence[int]) -> dict[int, list[User]]:
    """Everyone in each of the DMs, in one query."""
    if not channel_ids:
        return {}
    rows = await session.execute(
        select(DMRecipient.channel_id, User)
        .join(User, User.id == DMRecipient.user_id)
        .where(DMRecipient.channel_id.in_(list(channel_ids)))
        .order_by(DMRecipient.channel_id, User.id)
    )
    found: dict[int, list[User]] = {}
    for channel_id, user in rows:
        found.setdefault(channel_id, []).append(user)
    return found


async def participant_ids(session: AsyncSession, channel_id: int) -> list[int]:
    rows = await session.scalars(
        select(DMRecipient.user_id).where(DMRecipient.channel_id == channel_id)
    )
    return list(rows)


async def by_key(session: AsyncSession, dm_key: str) -> Channel | None:
    return await session.scalar(select(Channel).where(Channel.dm_key == dm_key))


async def add(session: AsyncSession, channel: Channel, user_ids: Sequence[int]) -> bool:
    """Inserts the DM with its participants; False when a one-to-one DM with the same key
    was created meanwhile by a concurrent request (the savepoint keeps our transaction)."""
    try:
        async with session.begin_nested():
            session.add(channel)
            await session.flush()
            session.add_all(DMRecipient(channel_id=channel.id, user_id=u) for u in user_ids)
            await session.flush()
    except IntegrityError:
        if channel.dm_key is None:
            raise
        return False
    return True
