"""The event bus: carries committed events to every process's gateway hub.

`publish` only enqueues, without awaiting, so a request can hand its events over while it
still holds the write connection: events then leave each process in commit order, and a
kick is never overtaken by the next message in the same channel.
"""

from __future__ import annotations

from gossip.bus.base import Bus, Handler
from gossip.bus.memory import MemoryBus
from gossip.bus.redis import RedisBus


def build_bus(redis_url: str | None, prefix: str) -> Bus:
    if redis_url:
        return RedisBus(redis_url, channel=f"{prefix}events")
    return MemoryBus()


__all__ = ["Bus", "Handler", "MemoryBus", "RedisBus", "build_bus"]
