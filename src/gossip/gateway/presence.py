"""Who is connected: counts of gateway connections per user, in this process or fleet-wide.

With Redis, each process keeps its own hash of user → connection count under a key that
expires unless the process refreshes it, so a process that dies takes its users offline
by itself within the TTL instead of leaving them online forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Collection
from typing import Protocol

import redis.asyncio as aioredis


class Presence(Protocol):
    async def connected(self, user_id: int) -> None: ...

    async def disconnected(self, user_id: int) -> None: ...

    async def online(self, user_ids: Collection[int]) -> set[int]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()

    async def connected(self, user_id: int) -> None:
        self._counts[user_id] += 1

    async def disconnected(self, user_id: int) -> None:
        self._counts[user_id] -= 1
        if self._counts[user_id] <= 0:
            del self._counts[user_id]

    async def online(self, user_ids: Collection[int]) -> set[int]:
        return {uid for uid in user_ids if self._counts.get(uid, 0) > 0}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisPresence:
    TTL_S = 30
    REFRESH_S = 10

    def __init__(self, url: str, prefix: str) -> None:
        self._client = aioredis.from_url(url)
        self._node = uuid.uuid4().hex
        self._nodes_key = f"{prefix}presence:nodes"
        self._prefix = f"{prefix}presence:node:"
        self._refresher: asyncio.Task[None] | None = None

    @property
    def _mine(self) -> str:
        return self._prefix + self._node

    async def connected(self, user_id: int) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hincrby(self._mine, str(user_id), 1)
            pipe.expire(self._mine, self.TTL_S)
            await pipe.execute()

    async def disconnected(self, user_id: int) -> None:
        left = await self._client.hincrby(self._mine, str(user_id), -1)
        if left <= 0:
            await self._client.hdel(self._mine, str(user_id))

    async def online(self, user_ids: Collection[int]) -> set[int]:
        if not user_ids:
            return set()
        cutoff = time.time() - self.TTL_S
        nodes = await self._client.zrangebyscore(self._nodes_key, cutoff, "+inf")
        fields = [str(uid) for uid in user_ids]
        found: set[int] = set()
        async with self._client.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.hmget(self._prefix + node.decode(), fields)
            for counts in await pipe.execute():
                found.update(
                    int(field) for field, count in zip(fields, counts, strict=True) if count
                )
        return found

    async def _refresh(self) -> None:
        while True:
            now = time.time()
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zadd(self._nodes_key, {self._node: now})
                pipe.zremrangebyscore(self._nodes_key, "-inf", now - self.TTL_S)
                pipe.expire(self._mine, self.TTL_S)
                await pipe.execute()
            await asyncio.sleep(self.REFRESH_S)

    async def start(self) -> None:
        if self._refresher is None:
            await self._client.zadd(self._nodes_key, {self._node: time.time()})
            self._refresher = asyncio.get_running_loop().create_task(self._refresh())

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        with contextlib.suppress(Exception):
            await self._client.delete(self._mine)
            await self._client.zrem(self._nodes_key, self._node)
        await self._client.aclose()


def build_presence(redis_url: str | None, prefix: str) -> Presence:
    return RedisPresence(redis_url, prefix) if redis_url else MemoryPresence()
