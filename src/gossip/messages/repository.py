"""SQL for messages. Pages walk the `(channel_id, id)` index in either direction.

Storing a new message is the hottest write, so it bypasses the ORM: its two statements are
built once and run on the session's connection with plain values (building an expression
and the ORM's unit of work each cost more than SQLite spends on the statement).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Message
from gossip.db.sqlite_driver import Prepared

MAX_PINS_SCAN = 50


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message row about to be stored, as plain values (the attributes of `Message`).
    Empty lists are stored as NULL, which keeps the common row small."""

    id: int
    channel_id: int
    author_id: int
    content: str
    tts: bool = False
    mention_everyone: bool = False
    mentions: list[str] | None = None
    mention_roles: list[str] | None = None
    embeds: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    webhook_id: int | None = None
    webhook_username: str | None = None
    webhook_avatar: str | None = None
    type: int = 0
    pinned: bool = False
    edited_at: datetime | None = field(default=None)


_messages = Message.__table__
_channels = Channel.__table__
_COLUMNS = tuple(c.name for c in _messages.columns)
_INSERT = insert(_messages)
# Moves the channel's pointer forward only: two concurrent sends commit in either order,
# and the pointer must end on the newer message.
_BUMP = (
    update(_channels)
    .where(
        _channels.c.id == bindparam("channel"),
        or_(
            _channels.c.last_message_id.is_(None),
            _channels.c.last_message_id < bindparam("message"),
        ),
    )
    .values(last_message_id=bindparam("message"))
)


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


async def add(session: AsyncSession, message: NewMessage) -> None:
    """Inserts the message and moves its channel's lastMessageId (the database's triggers
    keep the search index and the channel's message count)."""
    connection = await session.connection()
    await connection.execute(_INSERT, {name: getattr(message, name) for name in _COLUMNS})
    await connection.execute(_BUMP, {"channel": message.channel_id, "message": message.id})


_INSERT_SQLITE = Prepared(_INSERT, _COLUMNS)
_BUMP_SQLITE = Prepared(_BUMP)


def add_sqlite(conn: sqlite3.Connection, message: NewMessage) -> None:
    """`add` on a sqlite3 connection, from the thread that owns it, inside a transaction
    the caller opened (the group commit of sends, messages/group_commit.py): the same two
    statements with the same values."""
    conn.execute(
        _INSERT_SQLITE.sql, _INSERT_SQLITE.params({n: getattr(message, n) for n in _COLUMNS})
    )
    conn.execute(
        _BUMP_SQLITE.sql,
        _BUMP_SQLITE.params({"channel": message.channel_id, "message": message.id}),
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
