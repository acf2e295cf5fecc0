"""SQL for platform administration: the figures of /api/admin/stats and account switches.

Time windows are snowflake ranges (IDs are time-ordered), so "today" is `id >= since` on
primary keys, never a scan of a timestamp column.
"""

from __future__ import annotations

from sqlalchemy import Table, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import AuthSession, Base, Channel, Message, Server, User


async def count_people(session: AsyncSession, since_id: int = 0) -> int:
    """Accounts that are not bots (the reserved webhook author is one), created from
    `since_id` on."""
    count = await session.scalar(
        select(func.count()).select_from(User).where(User.bot.is_(False), User.id >= since_id)
    )
    return int(count or 0)


async def count_active_people(session: AsyncSession, since_id: int) -> int:
    """People who sent a message or logged in (a new login session) from `since_id` on."""
    senders = select(Message.author_id.label("user_id")).where(
        Message.id >= since_id, Message.webhook_id.is_(None)
    )
    logins = select(AuthSession.user_id.label("user_id")).where(AuthSession.id >= since_id)
    active = union(senders, logins).subquery()
    count = await session.scalar(
        select(func.count())
        .select_from(active)
        .join(User, User.id == active.c.user_id)
        .where(User.bot.is_(False))
    )
    return int(count or 0)


async def count_servers(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Server)) or 0)


async def count_active_servers(session: AsyncSession, since_id: int) -> int:
    """Servers with a message in any of their channels from `since_id` on."""
    count = await session.scalar(
        select(func.count(func.distinct(Channel.server_id)))
        .select_from(Message)
        .join(Channel, Channel.id == Message.channel_id)
        .where(Message.id >= since_id, Channel.server_id.is_not(None))
    )
    return int(count or 0)


async def count_messages(session: AsyncSession, since_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Message).where(Message.id >= since_id)
    )
    return int(count or 0)


async def storage(session: AsyncSession) -> tuple[int, int]:
    """(bytes, files) of uploaded media. Read through the table's metadata, so these
    figures start counting as soon as the media table exists, and are 0 without it."""
    media: Table | None = Base.metadata.tables.get("media")
    if media is None or "size" not in media.c:
        return 0, 0
    row = (
        await session.execute(select(func.coalesce(func.sum(media.c.size), 0), func.count()))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


async def live_session_ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        select(AuthSession.id).where(AuthSession.user_id == user_id, AuthSession.revoked.is_(False))
    )
    return list(rows)
