"""The rules of outgoing webhooks: endpoints, secrets, the delivery log, and spec 000.

Everything is scoped to the account that owns the API key: another account's endpoint or
delivery does not exist for the caller (404). IDs go out with prefixes (`wh_`, `msg_`),
as the developer API shows every ID; a delivery's ID is its `webhook-id`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from gossip.events import Audience, emit
from gossip.hooks import catalog, netguard, repository, signing
from gossip.hooks.outbox import ENDPOINTS_CHANGED, Outbox, Outgoing
from gossip.kit import ids
from gossip.kit.errors import NotFound, ValidationFailed
from gossip.kit.timefmt import iso

MAX_ENDPOINTS = 50
MAX_EVENTS = 100
ENDPOINT_PREFIX = "wh_"
DELIVERY_PREFIX = "msg_"


@dataclass(frozen=True, slots=True)
class Owner:
    """Who is asking, from the API key: the account and the key that registers things."""

    user_id: int
    key_id: int | None
    namespace: str
    live: bool


async def owner(session: AsyncSession, user_id: int, key_id: int | None, *, live: bool) -> Owner:
    username = await repository.username_of(session, user_id) or str(user_id)
    return Owner(user_id, key_id, catalog.namespace_of(username), live)


def parse_prefixed(value: str, prefix: str, what: str) -> int:
    parsed = ids.parse_id(value.removeprefix(prefix)) if value.startswith(prefix) else None
    if parsed is None:
        raise NotFound(what)
    return parsed


def _changed(session: AsyncSession) -> None:
    # Every process drops its cached set of subscribed event types (hooks/outbox.py).
    emit(session, ENDPOINTS_CHANGED, {}, Audience())


# --- views -----------------------------------------------------------------------------


def _ms_iso(ms: int | None) -> str | None:
    return None if ms is None else iso(datetime.fromtimestamp(ms / 1000, tz=UTC))


def endpoint_view(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": f"{ENDPOINT_PREFIX}{endpoint.id}",
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "mode": "live" if endpoint.live else "test",
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso(ids.snowflake_time(endpoint.id)),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def listener_view(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    view = endpoint_view(endpoint, secret)
    view["event_type"] = endpoint.events[0] if endpoint.events else None
    return view


def delivery_view(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": f"{DELIVERY_PREFIX}{delivery.id}",
        "event": delivery.event_type,
        "status": delivery.status,
        "created_at": iso(ids.snowflake_time(delivery.id)),
        "delivered_at": _ms_iso(delivery.delivered_at),
        "next_attempt_at": _ms_iso(delivery.next_attempt_at)
        if delivery.status == "pending"
        else None,
        "attempts": [
            {
                "at": iso(ids.snowflake_time(a.id)),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts
        ],
    }


# --- checks ----------------------------------------------------------------------------


def check_events(raw: list[str], namespace: str, *, bare_is_own: bool) -> list[str]:
    if not raw:
        raise ValidationFailed.field("events", "give at least one event type")
    if len(raw) > MAX_EVENTS:
        raise ValidationFailed.field("events", f"at most {MAX_EVENTS} event types")
    names = [catalog.for_subscribing(r, namespace, bare_is_own=bare_is_own) for r in raw]
    return list(dict.fromkeys(names))


async def check_url(url: str, allow_private: bool) -> str:
    return await netguard.check_url(url.strip(), allow_private=allow_private)


# --- endpoints -------------------------------------------------------------------------


async def access_endpoint(
    session: AsyncSession,
    who: Owner,
    endpoint_id: int,
    kind: str = "webhook",
    *,
    lock: bool = False,
) -> WebhookEndpoint:
    endpoint = await repository.endpoint_of(session, who.user_id, endpoint_id, lock=lock)
    if endpoint is None or endpoint.kind != kind:
        raise NotFound("Webhook" if kind == "webhook" else "Listener")
    return endpoint


async def do_create_endpoint(
    session: AsyncSession,
    who: Owner,
    *,
    url: str,
    events: list[str],
    description: str | None,
    kind: str = "webhook",
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is shown this once."""
    if await repository.count_endpoints(session, who.user_id) >= MAX_ENDPOINTS:
        raise ValidationFailed(f"An account may have at most {MAX_ENDPOINTS} endpoints")
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        id=ids.new_id(),
        owner_id=who.user_id,
        key_id=who.key_id,
        kind=kind,
        live=who.live,
        url=url,
        secret=secret,
        events=events,
        description=description,
        enabled=True,
    )
    await repository.add_endpoint(session, endpoint)
    _changed(session)
    return endpoint, secret


async def do_update_endpoint(
    session: AsyncSession,
    who: Owner,
    endpoint_id: int,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    endpoint = await access_endpoint(session, who, endpoint_id, lock=True)
    if url is not None:
        endpoint.url = url
    if description is not None:
        endpoint.description = description or None
    if events is not None:
        endpoint.events = events
        await session.flush()
        await repository.set_subscriptions(session, endpoint)
    if enabled is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.disabled_reason = None
        endpoint.failing_since = None
        await session.flush()
        await repository.retry_pending_of(session, endpoint.id, int(time.time() * 1000))
    elif enabled is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = "disabled by its owner"
    await session.flush()
    _changed(session)
    return endpoint


async def do_rotate_secret(
    session: AsyncSession, who: Owner, endpoint_id: int, kind: str = "webhook"
) -> tuple[WebhookEndpoint, str]:
    """A new secret, in force for every attempt from now on (queued deliveries too: the
    worker signs when it sends); the old one signs nothing more."""
    endpoint = await access_endpoint(session, who, endpoint_id, kind, lock=True)
    endpoint.secret = signing.new_secret()
    await session.flush()
    return endpoint, endpoint.secret


async def do_delete_endpoint(
    session: AsyncSession, who: Owner, endpoint_id: int, kind: str = "webhook"
) -> None:
    endpoint = await access_endpoint(session, who, endpoint_id, kind)
    await repository.remove_endpoint(session, endpoint.id)
    _changed(session)


async def list_endpoints(
    session: AsyncSession, who: Owner, kind: str = "webhook"
) -> list[WebhookEndpoint]:
    return list(await repository.endpoints_of(session, who.user_id, kind))


# --- the delivery log ------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession, who: Owner, endpoint_id: int, *, before: int | None, limit: int
) -> list[tuple[WebhookDelivery, dict[str, Any]]]:
    """Up to `limit` deliveries older than `before`, newest first, with their views."""
    endpoint = await access_endpoint(session, who, endpoint_id)
    rows = list(await repository.deliveries_of(session, endpoint.id, before=before, limit=limit))
    attempts = await repository.attempts_of(session, [r.id for r in rows])
    return [(r, delivery_view(r, attempts[r.id])) for r in rows]


async def get_delivery(
    session: AsyncSession, who: Owner, endpoint_id: int, delivery_id: int
) -> dict[str, Any]:
    endpoint = await access_endpoint(session, who, endpoint_id)
    delivery = await repository.delivery_of(session, endpoint.id, delivery_id)
    if delivery is None:
        raise NotFound("Delivery")
    attempts = await repository.attempts_of(session, [delivery.id])
    return delivery_view(delivery, attempts[delivery.id])


async def do_redeliver(
    session: AsyncSession, who: Owner, endpoint_id: int, delivery_id: int
) -> WebhookDelivery:
    """Sends a delivery again, with its webhook-id, now and with a fresh retry schedule."""
    endpoint = await access_endpoint(session, who, endpoint_id)
    delivery = await repository.delivery_of(session, endpoint.id, delivery_id)
    if delivery is None:
        raise NotFound("Delivery")
    await repository.requeue(session, delivery.id, int(time.time() * 1000))
    await session.refresh(delivery)
    session.info["gossip.outbox.staged"] = 1  # wakes this process's worker after commit
    return delivery


# --- spec 000: the event bus -------------------------------------------------------------


async def do_publish(
    session: AsyncSession, outbox: Outbox, who: Owner, event_type: str, data: Any
) -> tuple[str, int]:
    """Queues `{"event", "data"}` for every listener of the event; the count queued."""
    name = catalog.for_publishing(event_type, who.namespace)
    # A namespace's events reach its own account's endpoints (catalog.for_subscribing).
    audience = Audience(user_ids=(who.user_id,))
    count = await outbox.enqueue(session, [Outgoing(name, data, audience, live=who.live)])
    return name, count


async def do_register_listener(
    session: AsyncSession, who: Owner, event_type: str | None, url: str
) -> tuple[WebhookEndpoint, str]:
    name = catalog.for_subscribing(event_type or catalog.WILDCARD, who.namespace, bare_is_own=True)
    return await do_create_endpoint(
        session, who, url=url, events=[name], description=None, kind="listener"
    )
