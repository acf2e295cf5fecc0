"""The in-process bus: one server process, no external service."""

from __future__ import annotations

from gossip.bus.base import Bus
from gossip.events import Event


class MemoryBus(Bus):
    async def _send(self, event: Event) -> None:
        await self.deliver(event)
