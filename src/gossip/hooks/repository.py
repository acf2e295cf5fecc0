"""Every SQL statement of outgoing webhooks: endpoints, subscriptions, the outbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import (
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSubscription,
)

# --- endpoints -------------------------------------------------------------------------


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    session.add(endpoint)
    await session.flush()
    await set_subscriptions(session, endpoint)


async def set_subscriptions(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    await session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.endpoint_id == endpoint.id)
    )
    if endpoint.events:
        await session.execute(
            insert(WebhookSubscription),
            [
                {"event_type": t, "endpoint_id": endpoint.id, "owner_id": endpoint.owner_id}
                for t in endpoint.events
            ],
        )


async def endpoint_of(
    session: AsyncSession, owner_id: int, endpoint_id: int, *, lock: bool = False
) -> WebhookEndpoint | None:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.owner_id == owner_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def endpoints_of(
    session: AsyncSession, owner_id: int, kind: str | None = None
) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id)
    if kind is not None:
        query = query.where(WebhookEndpoint.kind == kind)
    return (await session.execute(query.order_by(WebhookEndpoint.id))).scalars().all()


async def count_endpoints(session: AsyncSession, owner_id: int) -> int:
    query = select(func.count()).where(WebhookEndpoint.owner_id == owner_id)
    return int((await session.execute(query)).scalar_one())


async def remove_endpoint(session: AsyncSession, endpoint_id: int) -> None:
    # Children first: SQLite enforces the cascade only with foreign keys on, and the
    # explicit order costs nothing on PostgreSQL.
    delivery_ids = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
    await session.execute(
        delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
    )
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    await session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.endpoint_id == endpoint_id)
    )
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def username_of(session: AsyncSession, user_id: int) -> str | None:
    return (
        await session.execute(select(User.username).where(User.id == user_id))
    ).scalar_one_or_none()


# --- what the outbox asks --------------------------------------------------------------


async def subscribed_types(session: AsyncSession) -> frozenset[str]:
    """Every event type some enabled endpoint wants."""
    query = (
        select(WebhookSubscription.event_type)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookSubscription.endpoint_id)
        .where(WebhookEndpoint.enabled.is_(True))
        .distinct()
    )
    return frozenset((await session.execute(query)).scalars().all())


@dataclass(frozen=True, slots=True)
class Subscriber:
    endpoint_id: int
    owner_id: int
    event_type: str  # what it subscribed to: a type or "*"
    live: bool


async def subscribers(session: AsyncSession, event_types: Iterable[str]) -> list[Subscriber]:
    query = (
        select(
            WebhookSubscription.endpoint_id,
            WebhookSubscription.owner_id,
            WebhookSubscription.event_type,
            WebhookEndpoint.live,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookSubscription.endpoint_id)
        .where(
            WebhookSubscription.event_type.in_(list(event_types)),
            WebhookEndpoint.enabled.is_(True),
        )
    )
    return [Subscriber(*row) for row in (await session.execute(query)).all()]


async def add_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(WebhookDelivery), rows)


# --- what the worker asks --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    endpoint_id: int
    body: str
    attempts: int
    url: str
    secret: str
    failing: bool  # the endpoint had failing_since set when this was claimed


async def claim(
    session: AsyncSession, *, now: int, lease_until: int, limit: int, skip_locked: bool
) -> list[Claimed]:
    """Due pending deliveries of enabled endpoints, leased to the caller by moving their
    next attempt to `lease_until`, with what sending them needs, oldest first. One
    statement (UPDATE … RETURNING). On PostgreSQL SKIP LOCKED lets several workers claim
    side by side; SQLite's writer lock already serialises them."""
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(of=WebhookDelivery, skip_locked=True)

    # Correlated subqueries, not UPDATE … FROM: SQLite's RETURNING may not name a FROM table.
    def of_endpoint(column: Any) -> Any:
        return (
            select(column)
            .where(WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .scalar_subquery()
        )

    claimed = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=lease_until)
        .returning(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
            of_endpoint(WebhookEndpoint.url),
            of_endpoint(WebhookEndpoint.secret),
            of_endpoint(WebhookEndpoint.failing_since.is_not(None)),
        )
        .execution_options(synchronize_session=False)
    )
    # RETURNING has no order; snowflake IDs sort as the rows were queued.
    return sorted((Claimed(*row) for row in claimed.all()), key=lambda c: c.id)


async def add_attempts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(WebhookAttempt), rows)


async def finish(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Each row: id, status, attempts, next_attempt_at, last_status, delivered_at."""
    table = WebhookDelivery.__table__
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            last_status=bindparam("b_last"),
            delivered_at=bindparam("b_delivered"),
        ),
        [
            {
                "b_id": r["id"],
                "b_status": r["status"],
                "b_attempts": r["attempts"],
                "b_next": r["next_attempt_at"],
                "b_last": r["last_status"],
                "b_delivered": r["delivered_at"],
            }
            for r in rows
        ],
    )


async def mark_healthy(session: AsyncSession, endpoint_ids: Iterable[int]) -> None:
    ids = list(endpoint_ids)
    if ids:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
        )


async def mark_failing(session: AsyncSession, endpoint_ids: Iterable[int], now: int) -> None:
    ids = list(endpoint_ids)
    if ids:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=now)
        )


async def disable(session: AsyncSession, endpoint_ids: Iterable[int], reason: str) -> list[int]:
    ids = list(endpoint_ids)
    if not ids:
        return []
    result = await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason)
        .returning(WebhookEndpoint.id)
    )
    return list(result.scalars().all())


async def failing_before(
    session: AsyncSession, endpoint_ids: Iterable[int], cutoff: int
) -> list[int]:
    ids = list(endpoint_ids)
    if not ids:
        return []
    query = select(WebhookEndpoint.id).where(
        WebhookEndpoint.id.in_(ids),
        WebhookEndpoint.failing_since.is_not(None),
        WebhookEndpoint.failing_since <= cutoff,
    )
    return list((await session.execute(query)).scalars().all())


# --- the delivery log ------------------------------------------------------------------


async def deliveries_of(
    session: AsyncSession, endpoint_id: int, *, before: int | None, limit: int
) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def delivery_of(
    session: AsyncSession, endpoint_id: int, delivery_id: int
) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(
        and_(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookAttempt.id)
    )
    for attempt in (await session.execute(query)).scalars().all():
        found[attempt.delivery_id].append(attempt)
    return found


async def requeue(session: AsyncSession, delivery_id: int, now: int) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status="pending", next_attempt_at=now, attempts=0)
        .execution_options(synchronize_session=False)
    )


async def retry_pending_of(session: AsyncSession, endpoint_id: int, now: int) -> None:
    """A re-enabled endpoint gets its waiting deliveries now, not at their old times."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == "pending",
        )
        .values(next_attempt_at=now)
    )
