"""Every SQL statement of the developer platform."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import cache
from gossip.db.models import ApiKey, ApiKeyDay, ApiUsage, User

if TYPE_CHECKING:
    import asyncpg


async def add_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)
    await session.flush()


async def keys_of(session: AsyncSession, user_id: int) -> Sequence[ApiKey]:
    found = await session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc())
    )
    return found.all()


async def key_of(session: AsyncSession, user_id: int, key_id: int) -> ApiKey | None:
    found: ApiKey | None = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    )
    return found


async def revoke(session: AsyncSession, key_id: int, when: datetime) -> None:
    cache.mark(session)  # cached key contexts (auth/cache.py) die with the commit
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=when)
    )


async def live_key(session: AsyncSession, secret_hash: str) -> Row[Any] | None:
    """The unrevoked key with this digest and what its requests need of its owner, in one
    query (every /v1 request runs it)."""
    result = await session.execute(
        select(
            ApiKey.id,
            ApiKey.user_id,
            ApiKey.mode,
            ApiKey.last_used_at,
            User.plan,
            User.plan_daily_limit,
            User.disabled,
        )
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.secret_hash == secret_hash, ApiKey.revoked_at.is_(None))
    )
    return result.first()


async def usage_days(
    session: AsyncSession, user_id: int, mode: str, before: date | None, limit: int
) -> list[date]:
    """The newest `limit` days (before `before`) with usage on the account's keys of one
    mode."""
    stmt = (
        select(ApiUsage.day)
        .join(ApiKey, ApiKey.id == ApiUsage.key_id)
        .where(ApiKey.user_id == user_id, ApiKey.mode == mode)
        .group_by(ApiUsage.day)
        .order_by(ApiUsage.day.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(ApiUsage.day < before)
    return list((await session.scalars(stmt)).all())


async def usage(
    session: AsyncSession, user_id: int, mode: str, days: Sequence[date]
) -> Sequence[Row[Any]]:
    """(day, category, requests, bytes, cost) summed over the account's keys of one mode."""
    if not days:
        return []
    result = await session.execute(
        select(
            ApiUsage.day,
            ApiUsage.category,
            func.sum(ApiUsage.requests),
            func.sum(ApiUsage.bytes),
            func.sum(ApiUsage.cost_pico),
        )
        .join(ApiKey, ApiKey.id == ApiUsage.key_id)
        .where(ApiKey.user_id == user_id, ApiKey.mode == mode, ApiUsage.day.in_(days))
        .group_by(ApiUsage.day, ApiUsage.category)
        .order_by(ApiUsage.day.desc(), ApiUsage.category)
    )
    return result.all()


# Built once: every live /v1/profiles read runs it, and building the expression costs more
# than running it through SQLAlchemy's compiled cache.
_USER_BY_NAME = select(User).where(func.lower(User.username) == bindparam("name"))


async def user_by_name(session: AsyncSession, name: str) -> User | None:
    found: User | None = await session.scalar(_USER_BY_NAME, {"name": name.lower()})
    return found


async def set_plan(session: AsyncSession, user_id: int, plan: str, limit: int | None) -> None:
    cache.mark(session)  # cached key contexts carry the plan and its cap (auth/cache.py)
    await session.execute(
        update(User).where(User.id == user_id).values(plan=plan, plan_daily_limit=limit)
    )


# --- the meter's batch write ------------------------------------------------------------
#
# The meter writes once per batch of concurrent /v1 requests (developer/batching.py), so
# this is the one write on every /v1 request's path. It is plain SQL on the driver's own
# connection: on PostgreSQL ONE statement (one round trip, its own transaction) in the
# usual case, on SQLite one trip to the connection's thread for the whole transaction.
# SQLAlchemy's session would add a pool checkout with its ping, BEGIN and COMMIT, and its
# per-statement overhead, to every batch.


@dataclass(slots=True)
class Admission:
    """Requests of one key on one UTC day to admit against its cap, in arrival order; each
    one's usage (category, bytes, cost) is recorded if it is admitted (None: nothing to
    record, e.g. a write admitted up front)."""

    key_id: int
    day: date
    limit: int
    requests: list[tuple[str, int, int] | None] = field(default_factory=list)

    def admitted(self, before: int) -> int:
        return min(len(self.requests), max(0, self.limit - before))

    def usage(self, admitted: int) -> dict[str, list[int]]:
        """Requests, bytes and cost by category of the first `admitted` requests."""
        sums: dict[str, list[int]] = {}
        for item in self.requests[:admitted]:
            if item is not None:
                figures = sums.setdefault(item[0], [0, 0, 0])
                figures[0] += 1
                figures[1] += item[1]
                figures[2] += item[2]
        return sums


@dataclass(slots=True)
class MeterBatch:
    admissions: list[Admission]
    # Usage of requests admitted earlier (writes, admitted before they ran), by key, day
    # and category: requests, bytes, cost.
    recorded: dict[tuple[int, date, str], list[int]]
    touches: dict[int, datetime]  # key id -> last_used_at


def _sqlite_processor(column: Any) -> Any:
    dialect = sqlite.dialect()
    return column.type.dialect_impl(dialect).bind_processor(dialect)


# The very strings SQLAlchemy stores for these columns on SQLite (rows must compare equal).
_sqlite_day = _sqlite_processor(ApiKeyDay.__table__.c.day)
_sqlite_moment = _sqlite_processor(ApiKey.__table__.c.last_used_at)

_SQLITE_FITS = (
    "INSERT INTO api_key_days (key_id, day, requests) VALUES (?, ?, ?)"
    " ON CONFLICT (key_id, day) DO UPDATE SET requests = requests + excluded.requests"
    " WHERE requests + excluded.requests <= ? RETURNING requests"
)
_SQLITE_COUNT = (
    "INSERT INTO api_key_days (key_id, day, requests) VALUES (?, ?, 0)"
    " ON CONFLICT (key_id, day) DO UPDATE SET requests = requests RETURNING requests"
)
_SQLITE_ADD = "UPDATE api_key_days SET requests = requests + ? WHERE key_id = ? AND day = ?"
_SQLITE_USAGE = (
    "INSERT INTO api_usage (key_id, day, category, requests, bytes, cost_pico)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, day, category) DO UPDATE SET"
    " requests = requests + excluded.requests, bytes = bytes + excluded.bytes,"
    " cost_pico = cost_pico + excluded.cost_pico"
)
_SQLITE_TOUCH = "UPDATE api_keys SET last_used_at = ? WHERE id = ?"


def write_meter_sqlite(conn: sqlite3.Connection, batch: MeterBatch) -> list[int]:
    """The whole batch in one write transaction, run ON the connection's thread (one
    hand-off, db/sqlite_driver.call). Returns each admission's day count before it.
    BEGIN IMMEDIATE takes SQLite's write lock first, so the counts read here cannot move
    until COMMIT, in this process or any other: the cap is exact."""
    befores: list[int] = []
    usage = {slot: list(figures) for slot, figures in batch.recorded.items()}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for admission in batch.admissions:
            key_id, day, wanted = (
                admission.key_id,
                _sqlite_day(admission.day),
                len(admission.requests),
            )
            row = None
            if wanted <= admission.limit:  # usually: one statement adds them all
                row = conn.execute(_SQLITE_FITS, (key_id, day, wanted, admission.limit)).fetchone()
            if row is not None:
                before = int(row[0]) - wanted
            else:  # near the cap: read the count, add what fits
                before = int(conn.execute(_SQLITE_COUNT, (key_id, day)).fetchone()[0])
                if admitted := admission.admitted(before):
                    conn.execute(_SQLITE_ADD, (admitted, key_id, day))
            befores.append(before)
            for category, figures in admission.usage(admission.admitted(before)).items():
                total = usage.setdefault((key_id, admission.day, category), [0, 0, 0])
                for i in range(3):
                    total[i] += figures[i]
        for (key_id, moment, category), (requests, nbytes, cost) in usage.items():
            conn.execute(
                _SQLITE_USAGE, (key_id, _sqlite_day(moment), category, requests, nbytes, cost)
            )
        for key_id, when in batch.touches.items():
            conn.execute(_SQLITE_TOUCH, (_sqlite_moment(when), key_id))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return befores


# PostgreSQL, usually one statement: every admission that fits is added by one conditional
# upsert (which locks its day row and re-checks the cap on its latest version, so
# concurrent statements in any process are admitted exactly up to the cap); usage is added
# for the requests admitted earlier and for the admissions that returned a row; last-used
# times are written. Arrays keep the text fixed whatever the batch holds, so it is
# prepared once per connection.
_PG_BATCH = """
WITH admitted AS (
    INSERT INTO api_key_days AS d (key_id, day, requests)
    SELECT * FROM unnest($1::bigint[], $2::date[], $3::bigint[])
    ON CONFLICT (key_id, day) DO UPDATE SET requests = d.requests + excluded.requests
    WHERE d.requests + excluded.requests <= (
        SELECT cap.n FROM unnest($1::bigint[], $2::date[], $4::bigint[]) AS cap(key_id, day, n)
        WHERE cap.key_id = d.key_id AND cap.day = d.day
    )
    RETURNING d.key_id, d.day, d.requests
), recorded AS (
    INSERT INTO api_usage AS u (key_id, day, category, requests, bytes, cost_pico)
    SELECT v.key_id, v.day, v.category,
           v.requests + CASE WHEN a.key_id IS NULL THEN 0 ELSE v.if_requests END,
           v.bytes + CASE WHEN a.key_id IS NULL THEN 0 ELSE v.if_bytes END,
           v.cost + CASE WHEN a.key_id IS NULL THEN 0 ELSE v.if_cost END
    FROM unnest($5::bigint[], $6::date[], $7::text[], $8::bigint[], $9::bigint[],
                $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
         AS v(key_id, day, category, requests, bytes, cost, if_requests, if_bytes, if_cost)
    LEFT JOIN admitted AS a ON a.key_id = v.key_id AND a.day = v.day
    WHERE v.requests > 0 OR a.key_id IS NOT NULL
    ON CONFLICT (key_id, day, category) DO UPDATE SET
        requests = u.requests + excluded.requests,
        bytes = u.bytes + excluded.bytes,
        cost_pico = u.cost_pico + excluded.cost_pico
), touched AS (
    UPDATE api_keys AS k SET last_used_at = t.at
    FROM unnest($14::bigint[], $15::timestamptz[]) AS t(id, at)
    WHERE k.id = t.id
)
SELECT key_id, day, requests FROM admitted
"""
# Near the cap (rare: the day's last requests): in a transaction, an upsert whose update
# changes nothing creates the row if needed, locks it until COMMIT and returns the count;
# then what fits is added and its usage recorded.
_PG_COUNT = """
INSERT INTO api_key_days AS d (key_id, day, requests) VALUES ($1, $2, 0)
ON CONFLICT (key_id, day) DO UPDATE SET requests = d.requests RETURNING requests
"""
_PG_ADD = "UPDATE api_key_days SET requests = requests + $3 WHERE key_id = $1 AND day = $2"
_PG_USAGE = """
INSERT INTO api_usage AS u (key_id, day, category, requests, bytes, cost_pico)
SELECT * FROM unnest($1::bigint[], $2::date[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[])
ON CONFLICT (key_id, day, category) DO UPDATE SET
    requests = u.requests + excluded.requests,
    bytes = u.bytes + excluded.bytes,
    cost_pico = u.cost_pico + excluded.cost_pico
"""


async def write_meter_postgres(conn: asyncpg.Connection, batch: MeterBatch) -> list[int]:
    """The batch on a connection outside any transaction. Returns each admission's day
    count before it."""
    fits = [a for a in batch.admissions if len(a.requests) <= a.limit]
    # One row per key, day and category: what is recorded in any case, and what is
    # recorded if the key's admission for that day returns a row.
    rows: dict[tuple[int, date, str], list[int]] = {
        slot: [*figures, 0, 0, 0] for slot, figures in batch.recorded.items()
    }
    for admission in fits:
        for category, figures in admission.usage(len(admission.requests)).items():
            row = rows.setdefault((admission.key_id, admission.day, category), [0] * 6)
            for i in range(3):
                row[3 + i] += figures[i]
    slots = list(rows)
    found = await conn.fetch(
        _PG_BATCH,
        [a.key_id for a in fits],
        [a.day for a in fits],
        [len(a.requests) for a in fits],
        [a.limit for a in fits],
        [slot[0] for slot in slots],
        [slot[1] for slot in slots],
        [slot[2] for slot in slots],
        *_columns(list(rows.values()), 6),
        list(batch.touches),
        list(batch.touches.values()),
    )
    after = {(row[0], row[1]): int(row[2]) for row in found}
    befores: list[int | None] = []
    for admission in batch.admissions:
        count = after.get((admission.key_id, admission.day))
        befores.append(None if count is None else count - len(admission.requests))
    if None in befores:
        async with conn.transaction():
            for index, admission in enumerate(batch.admissions):
                if befores[index] is None:
                    befores[index] = await _admit_near_cap(conn, admission)
    return [before or 0 for before in befores]


async def _admit_near_cap(conn: asyncpg.Connection, admission: Admission) -> int:
    key_id, day = admission.key_id, admission.day
    before = int(await conn.fetchval(_PG_COUNT, key_id, day))
    if admitted := admission.admitted(before):
        await conn.execute(_PG_ADD, key_id, day, admitted)
        usage = admission.usage(admitted)
        if usage:
            await conn.execute(
                _PG_USAGE,
                [key_id] * len(usage),
                [day] * len(usage),
                list(usage),
                *_columns(list(usage.values()), 3),
            )
    return before


def _columns(rows: list[list[int]], width: int) -> list[list[int]]:
    return [[row[i] for row in rows] for i in range(width)]
