"""SQL for message search: FTS5 on SQLite; on PostgreSQL a tsvector column with a GIN
index over it and a one-second slice of each message's time (migrations 0007_search and
0009_search_slices).

Every statement is limited to `channel_ids`, the channels the caller may read, decided
before any SQL here runs (access.service.visible_channels).

Both engines answer the same question: the newest `cap` messages holding every word,
newest first. SQLite walks FTS5's doclists newest first and stops. PostgreSQL has no
index that yields matches in time order, so it goes back through time in stages
(newest_postgres), each choosing the cheapest way to cover the next stretch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Result, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@functools.cache
def _text(sql: str) -> TextClause:
    """The statement for `sql`, made once: the search statements come in a few dozen
    shapes, and each TextClause parses its text for bind parameters when built."""
    return text(sql)


async def _run(session: AsyncSession, sql: str, values: dict[str, Any]) -> Result[Any]:
    """Runs `sql` on the session's connection, past the ORM's execute (nothing here
    loads ORM objects)."""
    connection = await session.connection()
    return await connection.execute(_text(sql), values)


def fts5_query(words: Sequence[str]) -> str:
    """Every word, each quoted (so no word is read as FTS5 syntax: AND, NEAR, column:)."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


# --- SQLite: FTS5 ---------------------------------------------------------------------


def _where(user_id: int | None) -> str:
    author = " AND m.author_id = :author" if user_id is not None else ""
    return (
        "messages_fts MATCH :q"
        " AND m.channel_id IN (SELECT value FROM json_each(:channels))" + author
    )


# CROSS JOIN makes the FTS5 table the outer loop: its doclists are walked newest first and
# each match is checked against its row, never the other way round.
_FROM = "messages_fts CROSS JOIN messages AS m ON m.id = messages_fts.rowid"


def _channels_json(channel_ids: Sequence[int]) -> str:
    return orjson.dumps(list(channel_ids)).decode()


async def plan_each_query(session: AsyncSession) -> None:
    """On PostgreSQL, plans every search statement for its own values. asyncpg prepares
    statements, and after five runs PostgreSQL may settle on a generic plan, made without
    knowing the words or the stretch of time: one that suits a stretch of a few seconds
    (the GIN index with the slice) is wrong for a stretch of a month, and so on. The
    stages choose among a few statement shapes; the planner still picks the index for
    each, from the values. SET LOCAL ends with the (read) transaction."""
    if _postgres(session):
        await _run(session, "SET LOCAL plan_cache_mode = force_custom_plan", {})


def newest_sql(user_id: int | None) -> str:
    return (
        f"SELECT m.id, m.content FROM {_FROM}"
        f" WHERE {_where(user_id)} ORDER BY messages_fts.rowid DESC LIMIT :limit"
    )


def count_sql(user_id: int | None) -> str:
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {_FROM} WHERE {_where(user_id)} LIMIT :cap) AS found"
    )


def params(words: Sequence[str], channel_ids: Sequence[int], user_id: int | None) -> dict[str, Any]:
    """The bound values of newest_sql and count_sql (bench/search.py explains them)."""
    values: dict[str, Any] = {"q": fts5_query(words), "channels": _channels_json(channel_ids)}
    if user_id is not None:
        values["author"] = user_id
    return values


async def newest_matches(
    session: AsyncSession,
    words: Sequence[str],
    channel_ids: Sequence[int],
    user_id: int | None,
    limit: int,
) -> list[tuple[int, str]]:
    """SQLite: (message id, content) of the newest `limit` messages holding every word.

    No rank function here: FTS5's bm25() counts, on its first call, every message holding
    each word (its IDF), which for a word in half a million messages costs more than the
    rest of the search together; the service scores the candidates itself, the same way
    on both engines."""
    values = params(words, channel_ids, user_id) | {"limit": limit}
    rows = await _run(session, newest_sql(user_id), values)
    return [(int(r[0]), str(r[1])) for r in rows]


async def count_matches(
    session: AsyncSession,
    words: Sequence[str],
    channel_ids: Sequence[int],
    user_id: int | None,
    cap: int,
) -> int:
    """SQLite: how many messages hold every word, counting no further than `cap`."""
    values = params(words, channel_ids, user_id) | {"cap": cap}
    return int((await _run(session, count_sql(user_id), values)).scalar_one())


# --- PostgreSQL: newest matches in stages ------------------------------------------------

# `id >> 32` is the message's snowflake time in steps of 1,024 ms (the low 22 bits are
# worker and sequence). Migration 0009 indexes it beside the words in one GIN index, so
# `(id >> 32) >= :slice` limits a GIN scan to the messages of the last stretch of time:
# GIN intersects the words' posting lists with the slices' as it reads them and skips
# the rest, where the words alone would decode every posting of a common word (110 ms
# for one in half of a million messages).
SLICE_SHIFT = 32


@dataclass(frozen=True, slots=True)
class Stages:
    """How newest_postgres goes back in time (tests shrink it to reach every stage with a
    few thousand messages)."""

    first_rows: int = 1_000  # the newest messages of the scope, always read first
    # Read on in order only when this few more messages should suffice: past a handful,
    # the GIN index over a stretch of time is cheaper, reading just the matches' rows.
    walk_max: int = 1_500
    margin: float = 1.3  # a stretch of time is sized for this many times what is missing
    max_stages: int = 6


@dataclass(slots=True)
class _Progress:
    """What the stages so far have covered: every message of the scope with an ID at or
    above `bottom` has been looked at (about `rows` of them, the newest with ID `top`);
    `count` of them match, and `found` holds the first `texts` of those, newest first."""

    found: list[tuple[int, str]]
    count: int
    rows: int
    top: int
    bottom: int

    def rate(self) -> float:
        """Matches per message of the scope, lately."""
        return self.count / self.rows if self.rows else 0.0

    def rows_per_slice(self) -> float:
        """Messages of the scope per slice of time, lately."""
        milliseconds = max((self.top - self.bottom) >> 22, 1)
        return self.rows * (1 << (SLICE_SHIFT - 22)) / milliseconds


def _pg_scope(channel_ids: Sequence[int], user_id: int | None) -> tuple[str, dict[str, Any]]:
    """The scope's condition. One channel is an equality so that the planner can walk
    ix_messages_channel_id_id newest first (`= ANY` of a one-element array cannot)."""
    values: dict[str, Any] = {}
    if len(channel_ids) == 1:
        sql = "m.channel_id = :channel"
        values["channel"] = channel_ids[0]
    else:
        sql = "m.channel_id = ANY(CAST(:channels AS BIGINT[]))"
        values["channels"] = list(channel_ids)
    if user_id is not None:
        sql += " AND m.author_id = :author"
        values["author"] = user_id
    return sql, values


MATCH = "m.search_vector @@ plainto_tsquery('simple', :q)"

# Every stage answers the first :texts of its matches with their text, newest first, and
# the number of the others only: the count to 1,000 needs no rows, and each row handed to
# Python costs ~2.5 µs (asyncpg and SQLAlchemy), 2.5 ms for a thousand.


def walk_sql(scope: str, below: bool) -> str:
    """The next :rows messages of the scope, newest first, read in order through the
    primary key (or the channel's index), each tested against the words: cheap per
    message while the words are common. Answers the first :texts matches, then one
    summary row: the newest and oldest ID read, how many were read and how many match."""
    older = " AND m.id < :bottom" if below else ""
    return (
        "WITH walked AS MATERIALIZED (SELECT id, hit,"
        " CASE WHEN hit AND nth <= :texts THEN content END AS content, nth FROM"
        " (SELECT w.*, count(*) FILTER (WHERE hit) OVER (ORDER BY id DESC) AS nth FROM"
        f" (SELECT m.id, m.content, {MATCH} AS hit FROM messages AS m"
        f" WHERE {scope}{older} ORDER BY m.id DESC LIMIT :rows) AS w) AS c)"
        " SELECT id, content, NULL::bigint, NULL::bigint, NULL::bigint FROM walked"
        " WHERE hit AND nth <= :texts"
        " UNION ALL SELECT max(id), NULL, min(id), count(*), count(*) FILTER (WHERE hit)"
        " FROM walked"
    )


def _matches_sql(condition: str, scope: str) -> str:
    """The first :texts matches with their text, newest first, each row also carrying how
    many match in all (one row without text when :texts is 0)."""
    return (
        "SELECT id, CASE WHEN nth <= :texts THEN content END, n FROM"
        " (SELECT m.id, m.content, row_number() OVER (ORDER BY m.id + 0 DESC) AS nth,"
        f" count(*) OVER () AS n FROM messages AS m WHERE {MATCH} AND {condition}"
        f" AND m.id + 0 < :bottom AND {scope}) AS f"
        " WHERE nth <= greatest(:texts, 1) ORDER BY nth"
    )


def slices_sql(scope: str) -> str:
    """Matches from slice :slice on, older than :bottom, through the GIN index alone.
    `m.id + 0` keeps the planner off the primary key: an ordered walk of it would not stop
    at the slice if the stretch held fewer matches than are wanted."""
    return _matches_sql(f"(m.id >> {SLICE_SHIFT}) >= CAST(:slice AS BIGINT)", scope)


def rest_sql(scope: str) -> str:
    """Every match older than :bottom (few are expected), through the GIN index."""
    return _matches_sql("TRUE", scope)


async def newest_postgres(
    session: AsyncSession,
    words: Sequence[str],
    channel_ids: Sequence[int],
    user_id: int | None,
    cap: int,
    texts: int,
    scope_rows: int,
    stages: Stages = Stages(),
    trace: list[str] | None = None,
) -> tuple[list[tuple[int, str]], int]:
    """(the newest `texts` matches with their text, newest first; how many match, counting
    no further than `cap`), exactly. Each stage covers the next stretch back in time
    completely, or stops because it found all that was missing:

    1. read the scope's newest `first_rows` messages in order and test each, which
       measures how often the words occur lately and how many messages a second brings;
    2. then, from that: if the rest of the scope should hold little more than is still
       wanted, ask the GIN index for all of it (rare words: their posting lists are
       short); if a handful more messages should do, read on in order; otherwise ask the
       GIN index for the matches of just the stretch of time expected to hold what is
       missing (words in 0.1-20% of the messages).

    `scope_rows` is how many messages the scope holds (the channels' counters); `trace`,
    if given, gets the name of each stage run."""
    log = trace if trace is not None else []
    scope, values = _pg_scope(channel_ids, user_id)
    values["q"] = " ".join(words)
    log.append("walk")
    progress = await _walk(session, scope, values, None, stages.first_rows, texts)
    if progress is None:
        return [], 0
    if progress.rows < stages.first_rows:
        return progress.found, min(progress.count, cap)  # the whole scope was read
    for stage in range(stages.max_stages):
        need = cap - progress.count
        if need <= 0:
            break
        rate = progress.rate()
        last = stage == stages.max_stages - 1
        if rate * max(scope_rows - progress.rows, 0) <= 2 * need or last:
            log.append("rest")
            await _fetch(session, rest_sql(scope), values, progress, texts)
            break
        rows = int(need / rate * stages.margin) + 1
        if rows <= stages.walk_max:
            log.append("walk")
            left = max(texts - len(progress.found), 0)
            more = await _walk(session, scope, values, progress.bottom, rows, left)
            if more is None:
                break
            progress.found += more.found
            progress.count += more.count
            progress.rows += more.rows
            progress.bottom = more.bottom
            if more.rows < rows:
                break  # the scope's oldest message was read
            continue
        first = (progress.bottom >> SLICE_SHIFT) - int(rows / progress.rows_per_slice()) - 1
        first = max(first, 0)
        log.append("slices")
        got = await _fetch(session, slices_sql(scope), values | {"slice": first}, progress, texts)
        if got >= need or first == 0:
            break
        # Every match from slice `first` on is found: go on from there.
        progress.rows += rows
        progress.bottom = first << SLICE_SHIFT
    return progress.found, min(progress.count, cap)


async def _walk(
    session: AsyncSession,
    scope: str,
    values: dict[str, Any],
    bottom: int | None,
    rows: int,
    texts: int,
) -> _Progress | None:
    sql = walk_sql(scope, bottom is not None)
    extra = {"rows": rows, "texts": texts} | ({"bottom": bottom} if bottom is not None else {})
    result = list(await _run(session, sql, values | extra))
    newest, _, oldest, count, hits = result[-1]
    if not count:
        return None
    found = sorted(((int(r[0]), str(r[1])) for r in result[:-1]), reverse=True)
    return _Progress(found, int(hits), int(count), int(newest), int(oldest))


async def _fetch(
    session: AsyncSession, sql: str, values: dict[str, Any], progress: _Progress, texts: int
) -> int:
    """Runs a slices or rest statement; adds its texts and count to `progress`, and
    answers how many matched."""
    left = max(texts - len(progress.found), 0)
    extra = {"bottom": progress.bottom, "texts": left}
    rows = list(await _run(session, sql, values | extra))
    matched = int(rows[0][2]) if rows else 0
    progress.found += [(int(r[0]), str(r[1])) for r in rows[:left]]
    progress.count += matched
    return matched


async def newest_and_total(
    session: AsyncSession,
    words: Sequence[str],
    channel_ids: Sequence[int],
    user_id: int | None,
    want: int,
    cap: int,
    scope_rows: int,
) -> tuple[list[tuple[int, str]], int]:
    """(the newest `want` matches, how many match counting no further than `cap`)."""
    if _postgres(session):
        return await newest_postgres(session, words, channel_ids, user_id, cap, want, scope_rows)
    candidates = await newest_matches(session, words, channel_ids, user_id, want)
    total = len(candidates)
    if total == want:
        total = await count_matches(session, words, channel_ids, user_id, cap)
    return candidates, total


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
    values = {"channels": list(channel_ids) if postgres else _channels_json(channel_ids)}
    return int((await _run(session, sql, values)).scalar_one())
