"""SQL for message search, one statement per engine: the index is FTS5 on SQLite and a
tsvector column with a GIN index on PostgreSQL (migration 0007_search).

Every statement is limited to `channel_ids`, the channels the caller may read, decided
before any SQL here runs (access.service.readable_channel_ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Message


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def fts5_query(words: Sequence[str]) -> str:
    """Every word, each quoted (so no word is read as FTS5 syntax: AND, NEAR, column:)."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _where(postgres: bool, user_id: int | None) -> str:
    author = " AND m.author_id = :author" if user_id is not None else ""
    if postgres:
        return (
            "m.search_vector @@ plainto_tsquery('simple', :q)"
            " AND m.channel_id = ANY(CAST(:channels AS BIGINT[]))" + author
        )
    # CROSS JOIN makes the FTS5 table the outer loop: its doclists are walked newest
    # first and each match is checked against its row, never the other way round.
    return (
        "messages_fts MATCH :q"
        " AND m.channel_id IN (SELECT value FROM json_each(:channels))" + author
    )


def _from(postgres: bool) -> str:
    if postgres:
        return "messages AS m"
    return "messages_fts CROSS JOIN messages AS m ON m.id = messages_fts.rowid"


def _params(
    postgres: bool, words: Sequence[str], channel_ids: Sequence[int], user_id: int | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "q": " ".join(words) if postgres else fts5_query(words),
        "channels": list(channel_ids) if postgres else orjson.dumps(list(channel_ids)).decode(),
    }
    if user_id is not None:
        params["author"] = user_id
    return params


async def plan_each_query(session: AsyncSession) -> None:
    """On PostgreSQL, plans every search statement for its own words. asyncpg prepares
    statements, and after five runs PostgreSQL may settle on a generic plan, made without
    knowing the words: the backward walk of the primary key that suits a word in half the
    messages reads the whole table for a word in a few dozen, and the bitmap scan of the
    GIN index that suits the rare word fetches half a million rows for the common one.
    SET LOCAL ends with the (read) transaction."""
    if _postgres(session):
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def newest_sql(postgres: bool, user_id: int | None) -> str:
    order = "m.id DESC" if postgres else "messages_fts.rowid DESC"
    return (
        f"SELECT m.id, m.content FROM {_from(postgres)}"
        f" WHERE {_where(postgres, user_id)} ORDER BY {order} LIMIT :limit"
    )


def count_sql(postgres: bool, user_id: int | None) -> str:
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {_from(postgres)}"
        f" WHERE {_where(postgres, user_id)} LIMIT :cap) AS found"
    )


def params(
    postgres: bool, words: Sequence[str], channel_ids: Sequence[int], user_id: int | None
) -> dict[str, Any]:
    """The bound values of newest_sql and count_sql (bench/search.py explains them)."""
    return _params(postgres, words, channel_ids, user_id)


async def newest_matches(
    session: AsyncSession,
    words: Sequence[str],
    channel_ids: Sequence[int],
    user_id: int | None,
    limit: int,
) -> list[tuple[int, str]]:
    """(message id, content) of the newest `limit` messages holding every word.

    No rank function here: FTS5's bm25() counts, on its first call, every message holding
    each word (its IDF), which for a word in half a million messages costs more than the
    rest of the search together; the service scores the candidates itself, the same way
    on both engines."""
    postgres = _postgres(session)
    values = _params(postgres, words, channel_ids, user_id) | {"limit": limit}
    rows = await session.execute(text(newest_sql(postgres, user_id)), values)
    return [(int(r[0]), str(r[1])) for r in rows]


async def count_matches(
    session: AsyncSession,
    words: Sequence[str],
    channel_ids: Sequence[int],
    user_id: int | None,
    cap: int,
) -> int:
    """How many messages hold every word, counting no further than `cap`."""
    postgres = _postgres(session)
    values = _params(postgres, words, channel_ids, user_id) | {"cap": cap}
    return int((await session.execute(text(count_sql(postgres, user_id)), values)).scalar_one())


async def messages_in(session: AsyncSession, channel_ids: Sequence[int]) -> int:
    """How many messages the channels hold, from the counters the triggers keep."""
    if not channel_ids:
        return 0
    postgres = _postgres(session)
    within = (
        "id = ANY(CAST(:channels AS BIGINT[]))"
        if postgres
        else "id IN (SELECT value FROM json_each(:channels))"
    )
    sql = f"SELECT coalesce(sum(message_count), 0) FROM channels WHERE {within}"
    values = {"channels": _params(postgres, [], channel_ids, None)["channels"]}
    return int((await session.execute(text(sql), values)).scalar_one())


async def channels(session: AsyncSession, channel_ids: Sequence[int]) -> dict[int, Channel]:
    rows = await session.scalars(select(Channel).where(Channel.id.in_(list(channel_ids))))
    return {c.id: c for c in rows}


async def messages_by_id(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, Message]:
    rows = await session.scalars(select(Message).where(Message.id.in_(list(message_ids))))
    return {m.id: m for m in rows}
