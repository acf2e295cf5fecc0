"""SQL for threads: their metadata, their members, and listing them by parent channel.

A thread is "archived" when its flag says so or its archive deadline has passed (see
service.py); the listings spell that test in SQL so they can filter and page in the
database.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Member, Message, Thread, ThreadMember
from gossip.threads import THREAD_TYPES


def _insert(session: AsyncSession) -> Any:
    # INSERT ... ON CONFLICT DO NOTHING: one construct per dialect (as in reactions).
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _archived(now: datetime) -> ColumnElement[bool]:
    return or_(Thread.archived.is_(True), Thread.archive_deadline <= now)


def _archived_at() -> Any:
    """When the thread archived: the recorded moment, or the deadline it passed."""
    return case(
        (Thread.archived.is_(True), Thread.archive_timestamp), else_=Thread.archive_deadline
    )


async def is_thread(session: AsyncSession, channel_id: int) -> bool:
    kind = await session.scalar(select(Channel.type).where(Channel.id == channel_id))
    return kind in THREAD_TYPES


async def get(session: AsyncSession, channel_id: int, *, for_update: bool = False) -> Thread | None:
    """The thread's metadata; `for_update` locks the row on PostgreSQL (SQLite's writer is
    alone anyway), so two requests changing one thread take turns."""
    query = select(Thread).where(Thread.channel_id == channel_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def by_start_message(session: AsyncSession, message_id: int) -> Thread | None:
    return await session.scalar(select(Thread).where(Thread.start_message_id == message_id))


async def add(session: AsyncSession, channel: Channel, thread: Thread) -> None:
    session.add(channel)
    await session.flush()  # the channel row first: the metadata references it
    session.add(thread)
    await session.flush()


async def remove(session: AsyncSession, channel_id: int) -> None:
    """Deletes the thread's channel row; its metadata, members and messages cascade."""
    await session.execute(delete(Channel).where(Channel.id == channel_id))


async def active_in(
    session: AsyncSession, parent_id: int, now: datetime, *, before: int | None, limit: int
) -> list[tuple[Channel, Thread]]:
    """Unarchived threads of a channel, newest first (by ID), `limit` of them."""
    query = (
        select(Channel, Thread)
        .join(Thread, Thread.channel_id == Channel.id)
        .where(Channel.parent_id == parent_id, Channel.type.in_(THREAD_TYPES), not_(_archived(now)))
    )
    if before is not None:
        query = query.where(Channel.id < before)
    rows = await session.execute(query.order_by(Channel.id.desc()).limit(limit))
    return [(r[0], r[1]) for r in rows]


async def archived_in(
    session: AsyncSession,
    parent_id: int,
    now: datetime,
    *,
    before: datetime | None,
    limit: int,
) -> list[tuple[Channel, Thread]]:
    """Archived threads of a channel, most recently archived first, those archived before
    `before` if given (Discord's cursor)."""
    archived_at = _archived_at()
    query = (
        select(Channel, Thread)
        .join(Thread, Thread.channel_id == Channel.id)
        .where(Channel.parent_id == parent_id, Channel.type.in_(THREAD_TYPES), _archived(now))
    )
    if before is not None:
        query = query.where(archived_at < before)
    rows = await session.execute(query.order_by(archived_at.desc(), Channel.id.desc()).limit(limit))
    return [(r[0], r[1]) for r in rows]


async def message_counts(session: AsyncSession, thread_ids: Collection[int]) -> dict[int, int]:
    """Messages in each thread, counted on the `(channel_id, id)` index: exact whatever
    deleted them (the author, a moderator, a ban's cleanup), with no counter to drift."""
    if not thread_ids:
        return {}
    rows = await session.execute(
        select(Message.channel_id, func.count())
        .where(Message.channel_id.in_(list(thread_ids)))
        .group_by(Message.channel_id)
    )
    return {r[0]: int(r[1]) for r in rows}


def _current(server_id: int) -> ColumnElement[bool]:
    """Thread members who still belong to the server: leaving it leaves its threads."""
    return and_(Member.server_id == server_id, Member.user_id == ThreadMember.user_id)


async def member_counts(
    session: AsyncSession, server_id: int, thread_ids: Collection[int]
) -> dict[int, int]:
    if not thread_ids:
        return {}
    rows = await session.execute(
        select(ThreadMember.channel_id, func.count())
        .join(Member, _current(server_id))
        .where(ThreadMember.channel_id.in_(list(thread_ids)))
        .group_by(ThreadMember.channel_id)
    )
    return {r[0]: int(r[1]) for r in rows}


async def members(
    session: AsyncSession, server_id: int, thread_id: int, *, after: int | None, limit: int
) -> list[ThreadMember]:
    """The thread's members who are still in the server, by user ID."""
    query = (
        select(ThreadMember)
        .join(Member, _current(server_id))
        .where(ThreadMember.channel_id == thread_id)
    )
    if after is not None:
        query = query.where(ThreadMember.user_id > after)
    rows = await session.scalars(query.order_by(ThreadMember.user_id).limit(limit))
    return list(rows)


async def memberships(
    session: AsyncSession, user_id: int, thread_ids: Collection[int]
) -> list[ThreadMember]:
    """The user's own membership in each of these threads that they joined."""
    if not thread_ids:
        return []
    rows = await session.scalars(
        select(ThreadMember)
        .where(ThreadMember.user_id == user_id, ThreadMember.channel_id.in_(list(thread_ids)))
        .order_by(ThreadMember.channel_id)
    )
    return list(rows)


async def add_member(
    session: AsyncSession, thread_id: int, user_id: int, now: datetime
) -> ThreadMember | None:
    """Adds the member; None if they already were one (joining is idempotent, even for two
    identical requests racing)."""
    insert = _insert(session)
    result = await session.execute(
        insert(ThreadMember)
        .values(channel_id=thread_id, user_id=user_id, joined_at=now, flags=0)
        .on_conflict_do_nothing()
        .returning(ThreadMember.user_id)
    )
    if result.first() is None:
        return None
    return ThreadMember(channel_id=thread_id, user_id=user_id, joined_at=now, flags=0)


async def remove_member(session: AsyncSession, thread_id: int, user_id: int) -> bool:
    result = await session.execute(
        delete(ThreadMember)
        .where(ThreadMember.channel_id == thread_id, ThreadMember.user_id == user_id)
        .returning(ThreadMember.user_id)
    )
    return result.first() is not None
