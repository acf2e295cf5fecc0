"""The in-process bus: one server process, no external service."""

from __future__ import annotations

from gossip.bus.base import Bus
from gossip.events import Event


class MemoryBus(Bus):
    async def _send(self, event: Event) -> None:
        await self.deliver(event)

    def delivering_more(self) -> bool:
        # The pump delivers queued events one after another without yielding.
        return self._outbox is not None and not self._outbox.empty()
