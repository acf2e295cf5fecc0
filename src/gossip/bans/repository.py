"""SQL for bans, and for purging a banned user's recent messages."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Ban, Channel, Message, User

# Keeps each DELETE … IN (…) well under every driver's bound-parameter limit.
_CHUNK = 500


async def get(session: AsyncSession, server_id: int, user_id: int) -> Ban | None:
    return await session.get(Ban, (server_id, user_id))


async def with_user(session: AsyncSession, server_id: int, user_id: int) -> tuple[Ban, User] | None:
    row = (
        await session.execute(
            select(Ban, User)
            .join(User, User.id == Ban.user_id)
            .where(Ban.server_id == server_id, Ban.user_id == user_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def page(
    session: AsyncSession, server_id: int, *, after: int, limit: int
) -> list[tuple[Ban, User]]:
    rows = await session.execute(
        select(Ban, User)
        .join(User, User.id == Ban.user_id)
        .where(Ban.server_id == server_id, Ban.user_id > after)
        .order_by(Ban.user_id)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in rows]


async def add(session: AsyncSession, ban: Ban) -> None:
    session.add(ban)
    await session.flush()


async def update_reason(
    session: AsyncSession, server_id: int, user_id: int, reason: str | None, moderator_id: int
) -> None:
    await session.execute(
        update(Ban)
        .where(Ban.server_id == server_id, Ban.user_id == user_id)
        .values(reason=reason, moderator_id=moderator_id)
    )


async def remove(session: AsyncSession, server_id: int, user_id: int) -> None:
    await session.execute(delete(Ban).where(Ban.server_id == server_id, Ban.user_id == user_id))


async def recent_messages(
    session: AsyncSession, server_id: int, author_id: int, since_id: int
) -> list[tuple[int, int]]:
    """(channel id, message id) of the author's messages in the server from `since_id` on."""
    rows = await session.execute(
        select(Message.channel_id, Message.id)
        .where(
            Message.author_id == author_id,
            Message.id >= since_id,
            Message.channel_id.in_(select(Channel.id).where(Channel.server_id == server_id)),
        )
        .order_by(Message.channel_id, Message.id)
    )
    return [(r[0], r[1]) for r in rows]


async def delete_messages(
    session: AsyncSession, message_ids: Sequence[int], channel_ids: Sequence[int], since_id: int
) -> None:
    """Deletes the messages (their reactions cascade). Channels whose last message may have
    been among them (every deleted ID is >= `since_id`) point at their newest remaining."""
    for start in range(0, len(message_ids), _CHUNK):
        chunk = list(message_ids[start : start + _CHUNK])
        await session.execute(
            delete(Message)
            .where(Message.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    newest = select(func.max(Message.id)).where(Message.channel_id == Channel.id).scalar_subquery()
    await session.execute(
        update(Channel)
        .where(Channel.id.in_(list(channel_ids)), Channel.last_message_id >= since_id)
        .values(last_message_id=newest)
        .execution_options(synchronize_session=False)
    )
