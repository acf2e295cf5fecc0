"""The Redis bus: every process publishes to one pub/sub channel and hears all of them.

Pub/sub keeps each publisher's order and delivers at most once; a process that loses its
connection misses what was said meanwhile (spec 003 allows that: clients reconcile over
REST). The subscriber reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from gossip.bus.base import Bus, decode, encode
from gossip.events import Event

log = logging.getLogger("gossip.bus.redis")


class RedisBus(Bus):
    def __init__(self, url: str, *, channel: str) -> None:
        super().__init__()
        self._client = aioredis.from_url(url)
        self._channel = channel
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def _send(self, event: Event) -> None:
        await self._client.publish(self._channel, encode(event))

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())
            # Startup waits for the subscription, so nothing published after it is missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self.deliver(decode(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("redis bus subscription lost; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    async def close(self) -> None:
        await super().close()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()
