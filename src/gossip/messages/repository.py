"""SQL for messages. Pages walk the `(channel_id, id)` index in either direction."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Message

MAX_PINS_SCAN = 50


async def page(
    session: AsyncSession,
    channel_id: int,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
) -> list[Message]:
    """Up to `limit` messages, newest first: the latest ones, the ones right before
    `before`, or the ones right after `after` (read upwards from it, then reversed)."""
    query = select(Message).where(Message.channel_id == channel_id)
    if after is not None:
        query = query.where(Message.id > after).order_by(Message.id.asc())
    else:
        if before is not None:
            query = query.where(Message.id < before)
        query = query.order_by(Message.id.desc())
    rows = list(await session.scalars(query.limit(limit)))
    if after is not None:
        rows.reverse()
    return rows


async def in_channel(session: AsyncSession, channel_id: int, message_id: int) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.id == message_id, Message.channel_id == channel_id)
    )


async def add(session: AsyncSession, message: Message) -> None:
    session.add(message)
    await session.flush()


async def bump_last_message(session: AsyncSession, channel_id: int, message_id: int) -> None:
    """Moves the channel's pointer forward only: two concurrent sends commit in either
    order, and the pointer must end on the newer message."""
    await session.execute(
        update(Channel)
        .where(
            Channel.id == channel_id,
            or_(Channel.last_message_id.is_(None), Channel.last_message_id < message_id),
        )
        .values(last_message_id=message_id)
    )


async def remove(session: AsyncSession, message: Message) -> None:
    """Deletes the message (its reactions cascade). If it was the channel's last message,
    the pointer falls back to the newest remaining one: one indexed max()."""
    await session.execute(delete(Message).where(Message.id == message.id))
    newest = (
        select(func.max(Message.id))
        .where(Message.channel_id == message.channel_id)
        .scalar_subquery()
    )
    await session.execute(
        update(Channel)
        .where(Channel.id == message.channel_id, Channel.last_message_id == message.id)
        .values(last_message_id=newest)
    )


async def pinned(
    session: AsyncSession, channel_id: int, limit: int = MAX_PINS_SCAN
) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.channel_id == channel_id, Message.pinned.is_(True))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(rows)


async def pinned_count(session: AsyncSession, channel_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.channel_id == channel_id, Message.pinned.is_(True))
    )
    return int(count or 0)
