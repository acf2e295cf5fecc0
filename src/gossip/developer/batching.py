"""Group commit for the meter: the admissions and usage records of concurrent /v1 requests
share one write.

Every /v1 request needs a database write (the daily cap must hold across processes, so it
is counted in the database). One transaction per request would queue every read behind
SQLite's single writer and pay BEGIN/COMMIT each time. Instead each request hands its work
to this process's `MeterBatcher` and waits; whenever the batcher is idle it takes
everything waiting and writes it at once (repository.write_meter_*): on PostgreSQL usually
ONE statement on a connection the batcher keeps, on SQLite one trip to the writer
connection's thread. Admissions of one key and day are decided together under the lock of
its day's row, so the cap stays exact across processes; usage rows of the same key, day
and category are summed.
There is no timer: a lone request is written at once; under load, requests that arrive
while a batch is being written form the next one. The request is answered only after its
batch committed, so a response's cost is always in the usage report.

Two memories save writes without giving up exactness:
- a day's count never goes down, so once a key's day is seen at or over its cap, later
  requests at that cap (or a lower one) are refused without asking the database;
- last_used_at is written at most once a minute per key and process.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from gossip.db import sqlite_driver
from gossip.db.engine import Database
from gossip.developer import repository
from gossip.developer.pricing import Category
from gossip.developer.repository import Admission, MeterBatch
from gossip.developer.service import KeyContext, needs_touch, today

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

# Bounds on the two memories (clearing them is always safe: they only save writes).
_MEMORY = 50_000


@dataclass(slots=True)
class MeterWork:
    """One request's part of a batch. `admit`: count it against the cap first (and record
    nothing if refused); `record`: add its usage."""

    key: KeyContext
    now: datetime
    admit: bool
    record: bool
    category: Category = Category.READ
    response_bytes: int = 0
    cost: int = 0
    future: asyncio.Future[int | None] | None = field(default=None, repr=False)


class MeterBatcher:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[MeterWork] = []
        self._task: asyncio.Task[None] | None = None
        # (key id, day) -> a count the day's row is known to have reached.
        self._seen: dict[tuple[int, date], int] = {}
        self._touched: dict[int, datetime] = {}
        # PostgreSQL: one pooled connection kept for the meter (no checkout, ping, BEGIN
        # or COMMIT per batch). SQLite: the single writer connection, checked out per
        # batch, as every writer does (its pool is the queue of writers).
        self._held: AsyncConnection | None = None
        self._raw: Any = None

    async def submit(self, work: MeterWork) -> int | None:
        """The day's count after an admission (None: refused by the cap); 0 when the work
        only records."""
        loop = asyncio.get_running_loop()
        work.future = loop.create_future()
        self._waiting.append(work)
        if self._task is None:
            self._task = loop.create_task(self._drain())
        # Shielded: a client that goes away must not cancel what its batch will write.
        return await asyncio.shield(work.future)

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self._release()

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._write(batch)
                except Exception as error:  # every request of the batch fails alike
                    for work in batch:
                        assert work.future is not None
                        if not work.future.done():
                            work.future.set_exception(error)
                    continue
                for work, result in zip(batch, results, strict=True):
                    assert work.future is not None
                    if not work.future.done():
                        work.future.set_result(result)
        finally:
            self._task = None

    async def _write(self, batch: list[MeterWork]) -> list[int | None]:
        results: list[int | None] = [0] * len(batch)
        # Admissions per key and day, in arrival order: each admitted request takes the
        # next number until the cap.
        groups: dict[tuple[int, date], tuple[Admission, list[int]]] = {}
        recorded: dict[tuple[int, date, str], list[int]] = {}
        touches: dict[int, datetime] = {}
        for index, work in enumerate(batch):
            key, day = work.key, today(work.now)
            if needs_touch(self._last_used(key), work.now):
                touches[key.key_id] = work.now
            usage = (work.category.value, work.response_bytes, work.cost) if work.record else None
            if work.admit:
                slot = (key.key_id, day)
                if self._seen.get(slot, 0) >= key.daily_limit:
                    results[index] = None  # the day is full at this cap: no write needed
                    continue
                group = groups.get(slot)
                if group is None:
                    group = groups[slot] = (Admission(key.key_id, day, key.daily_limit), [])
                group[0].limit = key.daily_limit  # the newest context's cap
                group[0].requests.append(usage)
                group[1].append(index)
            elif usage is not None:
                figures = recorded.setdefault((key.key_id, day, usage[0]), [0, 0, 0])
                figures[0] += 1
                figures[1] += usage[1]
                figures[2] += usage[2]
        if not (groups or recorded or touches):
            return results
        befores = await self._store(
            MeterBatch([group[0] for group in groups.values()], recorded, touches)
        )
        for (slot, (admission, indexes)), before in zip(groups.items(), befores, strict=True):
            for offset, index in enumerate(indexes):
                count = before + offset + 1
                results[index] = count if count <= admission.limit else None
            reached = before + admission.admitted(before)
            if reached >= admission.limit:
                self._remember(self._seen, slot, max(reached, self._seen.get(slot, 0)))
        for key_id, when in touches.items():
            self._remember(self._touched, key_id, when)
        return results

    def _last_used(self, key: KeyContext) -> datetime | None:
        # The key's context may come from the key cache, older than our own last write.
        mine = self._touched.get(key.key_id)
        if mine is None or key.last_used_at is None:
            return mine or key.last_used_at
        return max(mine, key.last_used_at)

    @staticmethod
    def _remember(memory: dict[Any, Any], name: Any, value: Any) -> None:
        if len(memory) >= _MEMORY and name not in memory:
            memory.clear()
        memory[name] = value

    async def _store(self, batch: MeterBatch) -> list[int]:
        if self.db.is_sqlite:
            async with self.db.writer.connect() as connection:
                pooled = await connection.get_raw_connection()
                return await sqlite_driver.call(
                    pooled.driver_connection, repository.write_meter_sqlite, batch
                )
        raw = await self._connection()
        try:
            return await repository.write_meter_postgres(raw, batch)
        except BaseException:
            if raw.is_closed():  # the server went away: connect again next time
                await self._release(broken=True)
            raise

    async def _connection(self) -> Any:
        if self._raw is not None and not self._raw.is_closed():
            return self._raw
        await self._release(broken=True)
        held = await self.db.writer.connect()
        try:
            pooled = await held.get_raw_connection()
        except BaseException:
            await held.close()
            raise
        self._held, self._raw = held, pooled.driver_connection
        return self._raw

    async def _release(self, *, broken: bool = False) -> None:
        held, self._held, self._raw = self._held, None, None
        if held is None:
            return
        with contextlib.suppress(Exception):
            if broken:
                await held.invalidate()  # not back into the pool
            await held.close()
