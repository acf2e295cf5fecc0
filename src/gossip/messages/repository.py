"""SQL for messages. Pages walk the `(channel_id, id)` index in either direction.

Storing a new message is the hottest write, so it bypasses the ORM: its two statements are
built once and run on the session's connection with plain values (building an expression
and the ORM's unit of work each cost more than SQLite spends on the statement).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Message, User
from gossip.db.sqlite_driver import Prepared
from gossip.users.repository import UserBrief

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


_users = User.__table__


def _with_author(rows: Any) -> Select[Any]:
    """`rows` (a subquery of message rows) with each author's brief beside it."""
    return select(rows, _users.c.username, _users.c.avatar, _users.c.bot).select_from(
        rows.outerjoin(_users, _users.c.id == rows.c.author_id)
    )


def _page_statement(newest_first: bool, *bounds: Any) -> Select[Any]:
    m = _messages.c
    order = m.id.desc() if newest_first else m.id.asc()
    rows = (
        select(_messages)
        .where(m.channel_id == bindparam("channel"), *bounds)
        .order_by(order)
        .limit(bindparam("limit"))
        .subquery()
    )
    # The page is cut on the (channel_id, id) index first; authors are joined to its rows.
    return _with_author(rows).order_by(rows.c.id.desc() if newest_first else rows.c.id.asc())


# Built once: the history read is the commonest request after the send.
_LATEST = _page_statement(True)
_BEFORE = _page_statement(True, _messages.c.id < bindparam("before"))
_AFTER = _page_statement(False, _messages.c.id > bindparam("after"))
_BY_ID = _with_author(_messages).where(_messages.c.id.in_(bindparam("ids", expanding=True)))
_WIDTH = len(_COLUMNS)


def _decode(rows: Iterable[Any]) -> tuple[list[NewMessage], dict[int, UserBrief]]:
    messages: list[NewMessage] = []
    authors: dict[int, UserBrief] = {}
    for row in rows:
        message = NewMessage(**dict(zip(_COLUMNS, row[:_WIDTH], strict=True)))
        messages.append(message)
        username, avatar, bot = row[_WIDTH:]
        if username is not None:
            authors[message.author_id] = UserBrief(message.author_id, username, avatar, bot)
    return messages, authors


async def page_with_authors(
    session: AsyncSession,
    channel_id: int,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
) -> tuple[list[NewMessage], dict[int, UserBrief]]:
    """As `page`, as plain values, with the authors' briefs: one statement built once."""
    params: dict[str, Any] = {"channel": channel_id, "limit": limit}
    if after is not None:
        statement, params["after"] = _AFTER, after
    elif before is not None:
        statement, params["before"] = _BEFORE, before
    else:
        statement = _LATEST
    connection = await session.connection()
    messages, authors = _decode(await connection.execute(statement, params))
    if after is not None:
        messages.reverse()
    return messages, authors


async def by_id_with_authors(
    session: AsyncSession, message_ids: Sequence[int]
) -> tuple[dict[int, NewMessage], dict[int, UserBrief]]:
    """The messages by ID, as plain values, and the briefs of their authors (search's hits:
    loading 25 ORM objects, then their authors, cost more than the SQL)."""
    connection = await session.connection()
    messages, authors = _decode(await connection.execute(_BY_ID, {"ids": list(message_ids)}))
    return {m.id: m for m in messages}, authors


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


# PostgreSQL: the two in one statement. The INSERT's count trigger and the bump both
# lock the channel's row until COMMIT, so every send to a channel waits for the one before
# it; each round trip inside that window (and the event loop's turn after it) is paid by
# all of them. One trip fewer: 2.5 times the sends/s (docs/performance.md). The message's
# values go under names of their own: UPDATE would read `id` and `type` as values for the
# channel's own columns.
_INSERTED = (
    insert(_messages)
    .values({c.name: bindparam(f"m_{c.name}", type_=c.type) for c in _messages.columns})
    .returning(_messages.c.id, _messages.c.channel_id)
    .cte("inserted")
)
_INSERT_AND_BUMP = (
    update(_channels)
    .where(
        _channels.c.id == _INSERTED.c.channel_id,
        or_(
            _channels.c.last_message_id.is_(None),
            _channels.c.last_message_id < _INSERTED.c.id,
        ),
    )
    .values(last_message_id=_INSERTED.c.id)
)


async def add(session: AsyncSession, message: NewMessage) -> None:
    """Inserts the message and moves its channel's lastMessageId (the database's triggers
    keep the search index and the channel's message count): one statement on PostgreSQL,
    two on SQLite (no INSERT in a WITH; its single writer is taken for the whole
    transaction anyway)."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            _INSERT_AND_BUMP, {f"m_{name}": getattr(message, name) for name in _COLUMNS}
        )
        return
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
