"""Turning a transaction's events into outbox rows, inside that same transaction.

`Outbox.stage` runs just before every write session commits (db/engine.py's commit
hooks): it maps the events services emitted to webhook event names, finds the enabled
endpoints subscribed to them, keeps those whose owner may see the event (the same
`access_*` rules as the REST API), and inserts one delivery row per (event, endpoint).
The rows commit or roll back with the change itself, so a crash between commit and POST
loses nothing, and a rolled-back change sends nothing.

Most transactions have no subscriber at all: the set of subscribed event types is kept
in memory, refreshed when any process changes an endpoint (an internal bus event) and at
least every few seconds, so those transactions pay one set lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access import repository as access_repository
from gossip.access import service as access
from gossip.auth.subject import Actor
from gossip.db.engine import Database
from gossip.events import Audience, Event, pending
from gossip.hooks import catalog, repository
from gossip.kit import ids
from gossip.kit.errors import NotFound
from gossip.kit.permissions import has

# Internal bus event: some process changed an endpoint; drop the cached type set.
ENDPOINTS_CHANGED = "WEBHOOK_ENDPOINTS_CHANGED"
_CACHE_TTL = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event in webhook terms."""

    name: str
    data: Any
    audience: Audience
    # For message.received: only owners other than the author receive it.
    not_for: int | None = None
    # Gossip's own events are live; a test key's publishes reach test endpoints only.
    live: bool = True


def _author_id(data: dict[str, Any]) -> int | None:
    author = data.get("author")
    raw = author.get("id") if isinstance(author, dict) else None
    return ids.parse_id(raw) if raw is not None else None


def outgoing(events: Iterable[Event]) -> list[Outgoing]:
    found: list[Outgoing] = []
    for event in events:
        name = catalog.CHAT_EVENTS.get(event.type)
        if name is None:
            continue
        found.append(Outgoing(name, event.data, event.audience))
        audience = event.audience
        if name == "message.created" and audience.server_id is None and audience.user_ids:
            found.append(Outgoing("message.received", event.data, audience, _author_id(event.data)))
    return found


def body_of(name: str, data: Any) -> str:
    return orjson.dumps({"event": name, "data": data}).decode()


class Outbox:
    def __init__(self) -> None:
        self._types: frozenset[str] | None = None
        self._loaded_at = 0.0
        self._wake: list[Callable[[], None]] = []

    # --- the cache -----------------------------------------------------------------

    def invalidate(self, _event: Event | None = None) -> None:
        self._types = None

    async def on_bus_event(self, event: Event) -> None:
        if event.type == ENDPOINTS_CHANGED:
            self.invalidate()

    async def _subscribed(self, session: AsyncSession) -> frozenset[str]:
        now = time.monotonic()
        if self._types is None or now - self._loaded_at > _CACHE_TTL:
            self._types = await repository.subscribed_types(session)
            self._loaded_at = now
        return self._types

    async def subscribed(self, db: Database) -> frozenset[str]:
        """The event names some enabled endpoint subscribes to, from the cache or, when it
        is stale, a read transaction: for a writer that stages no rows itself unless this
        allows it (the send's group commit). As fresh as `stage` sees it."""
        if self._types is not None and time.monotonic() - self._loaded_at <= _CACHE_TTL:
            return self._types
        async with db.read_session() as session:
            return await self._subscribed(session)

    # --- waking the worker of this process ------------------------------------------

    def on_enqueued(self, wake: Callable[[], None]) -> None:
        self._wake.append(wake)

    def after_commit(self, session: AsyncSession) -> None:
        # Before the bus carries the news to other processes, this one knows at once.
        if any(e.type == ENDPOINTS_CHANGED for e in pending(session)):
            self.invalidate()
        if session.info.pop(_STAGED, 0):
            for wake in self._wake:
                wake()

    # --- staging -------------------------------------------------------------------

    async def stage(self, session: AsyncSession) -> None:
        """The before-commit hook: outbox rows for the events this transaction emitted."""
        events = pending(session)
        if not events:
            return
        wanted = outgoing(events)
        if not wanted:
            return
        await self.enqueue(session, wanted)

    async def enqueue(self, session: AsyncSession, wanted: list[Outgoing]) -> int:
        subscribed = await self._subscribed(session)
        if not subscribed:
            return 0
        if catalog.WILDCARD not in subscribed and not any(o.name in subscribed for o in wanted):
            return 0
        names = {o.name for o in wanted} | {catalog.WILDCARD}
        by_type: dict[str, list[repository.Subscriber]] = {}
        for sub in await repository.subscribers(session, names):
            by_type.setdefault(sub.event_type, []).append(sub)
        now = int(time.time() * 1000)
        memo: dict[tuple[int, Audience], bool] = {}
        rows: list[dict[str, Any]] = []
        for item in wanted:
            seen: set[int] = set()
            body: str | None = None
            for sub in (*by_type.get(item.name, ()), *by_type.get(catalog.WILDCARD, ())):
                if sub.endpoint_id in seen or sub.owner_id == item.not_for or sub.live != item.live:
                    continue
                seen.add(sub.endpoint_id)
                if not await _may_see(session, sub.owner_id, item.audience, memo):
                    continue
                body = body or body_of(item.name, item.data)
                rows.append(
                    {
                        "id": ids.new_id(),
                        "endpoint_id": sub.endpoint_id,
                        "event_type": item.name,
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                )
        if rows:
            await repository.add_deliveries(session, rows)
            session.info[_STAGED] = session.info.get(_STAGED, 0) + len(rows)
        return len(rows)


_STAGED = "gossip.outbox.staged"


async def _may_see(
    session: AsyncSession, owner_id: int, audience: Audience, memo: dict[tuple[int, Audience], bool]
) -> bool:
    key = (owner_id, audience)
    if key not in memo:
        memo[key] = await _visible(session, owner_id, audience)
    return memo[key]


async def _visible(session: AsyncSession, owner_id: int, audience: Audience) -> bool:
    """Would a gateway session of the owner receive this event? Decided by access/."""
    if owner_id in audience.user_ids:
        return True
    actor = Actor(user_id=owner_id, session_id=0, username="")
    permissions: int
    try:
        if audience.channel_id is not None:
            try:
                permissions = (
                    await access.access_channel(session, actor, audience.channel_id)
                ).permissions
            except NotFound:
                # A channel deleted in this transaction: its server's members were told.
                gone = await access_repository.channel(session, audience.channel_id) is None
                if not (gone and audience.server_id is not None):
                    return False
                permissions = (
                    await access.access_server(session, actor, audience.server_id)
                ).permissions
        elif audience.server_id is not None:
            permissions = (
                await access.access_server(session, actor, audience.server_id)
            ).permissions
        elif audience.server_ids:
            for server_id in audience.server_ids:
                try:
                    await access.access_server(session, actor, server_id)
                except NotFound:
                    continue
                return True
            return False
        else:
            return False
    except NotFound:
        return False
    return not audience.permission or has(permissions, audience.permission)
