"""The bus interface and the ordered hand-off both backends share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gossip.events import Audience, Event

log = logging.getLogger("gossip.bus")

Handler = Callable[[Event], Awaitable[None]]


def encode(event: Event) -> bytes:
    audience = event.audience
    body: dict[str, Any] = {
        "t": event.type,
        "d": event.data,
        "a": [
            audience.server_id,
            audience.channel_id,
            list(audience.user_ids),
            list(audience.server_ids),
            audience.permission,
        ],
    }
    if event.actor_id is not None:
        body["u"] = event.actor_id
    return orjson.dumps(body)


def decode(raw: bytes | str) -> Event:
    body: dict[str, Any] = orjson.loads(raw)
    server_id, channel_id, user_ids, server_ids, permission = body["a"]
    return Event(
        body["t"],
        body["d"],
        Audience(server_id, channel_id, tuple(user_ids), tuple(server_ids), permission),
        body.get("u"),
    )


class Bus:
    """Publishes events in order to every subscriber, in this process or all of them."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._outbox: asyncio.Queue[Event] | None = None
        self._pump: asyncio.Task[None] | None = None

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def publish(self, events: list[Event]) -> None:
        """Enqueue, never wait: safe to call while holding the write connection."""
        if not events:
            return
        if self._outbox is None:
            self._outbox = asyncio.Queue()
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())
        for event in events:
            self._outbox.put_nowait(event)

    async def _run_pump(self) -> None:
        assert self._outbox is not None
        while True:
            event = await self._outbox.get()
            try:
                await self._send(event)
            except Exception:
                log.exception("could not publish %s", event.type)
            finally:
                self._outbox.task_done()

    async def _send(self, event: Event) -> None:
        raise NotImplementedError

    async def deliver(self, event: Event) -> None:
        """Hand an event to this process's subscribers; one failing does not stop others."""
        for handler in self._handlers:
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed for %s", event.type)

    def delivering_more(self) -> bool:
        """Whether further events are already in hand, to be delivered right after the one
        being delivered (without a wait): the gateway then batches its socket writes."""
        return False

    async def start(self) -> None:
        """Begin receiving (a no-op for the in-process bus)."""

    async def drain(self) -> None:
        """Wait until everything published so far has been sent (tests, shutdown)."""
        if self._outbox is not None:
            await self._outbox.join()

    async def close(self) -> None:
        await self.drain()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._handlers.clear()
