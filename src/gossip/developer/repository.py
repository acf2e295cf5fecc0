"""Every SQL statement of the developer platform."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import ApiKey, ApiKeyDay, ApiUsage, User


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


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


async def admit_requests(
    session: AsyncSession, key_id: int, day: date, limit: int, wanted: int
) -> int:
    """Admits up to `wanted` requests against the key's daily cap, atomically; returns the
    day's count BEFORE them (the caller admits min(wanted, limit - before)).

    Usually one statement: a conditional upsert adding all of them if they fit. Otherwise
    an upsert whose update changes nothing creates the day's row if needed, locks it
    (PostgreSQL: until the transaction ends; SQLite: the write transaction already
    excludes every other writer) and returns its count, and an update adds what fits.
    Either way the row is decided under its lock, so concurrent requests, in any number of
    processes, are admitted exactly up to the cap.
    """
    # The usual case, everything fits: one conditional upsert that adds them all.
    if wanted <= limit:
        fits = _insert(session, ApiKeyDay).values(key_id=key_id, day=day, requests=wanted)
        fits = fits.on_conflict_do_update(
            index_elements=[ApiKeyDay.key_id, ApiKeyDay.day],
            set_={"requests": ApiKeyDay.requests + wanted},
            where=ApiKeyDay.requests + wanted <= limit,
        ).returning(ApiKeyDay.requests)
        after = await session.scalar(fits)
        if after is not None:
            return int(after) - wanted
    # Near the cap: lock the row and read its count (an upsert that changes nothing),
    # then add what still fits.
    stmt = _insert(session, ApiKeyDay).values(key_id=key_id, day=day, requests=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ApiKeyDay.key_id, ApiKeyDay.day],
        set_={"requests": ApiKeyDay.requests},
    ).returning(ApiKeyDay.requests)
    before = int(await session.scalar(stmt) or 0)
    admitted = min(wanted, max(0, limit - before))
    if admitted:
        await session.execute(
            update(ApiKeyDay)
            .where(ApiKeyDay.key_id == key_id, ApiKeyDay.day == day)
            .values(requests=ApiKeyDay.requests + admitted)
        )
    return before


async def record_usage(
    session: AsyncSession,
    key_id: int,
    day: date,
    category: str,
    response_bytes: int,
    cost: int,
    requests: int = 1,
) -> None:
    stmt = _insert(session, ApiUsage).values(
        key_id=key_id,
        day=day,
        category=category,
        requests=requests,
        bytes=response_bytes,
        cost_pico=cost,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ApiUsage.key_id, ApiUsage.day, ApiUsage.category],
            set_={
                "requests": ApiUsage.requests + stmt.excluded.requests,
                "bytes": ApiUsage.bytes + stmt.excluded.bytes,
                "cost_pico": ApiUsage.cost_pico + stmt.excluded.cost_pico,
            },
        )
    )


async def touch(session: AsyncSession, key_id: int, when: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


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


async def user_by_name(session: AsyncSession, name: str) -> User | None:
    found: User | None = await session.scalar(
        select(User).where(func.lower(User.username) == name.lower())
    )
    return found


async def set_plan(session: AsyncSession, user_id: int, plan: str, limit: int | None) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(plan=plan, plan_daily_limit=limit)
    )
