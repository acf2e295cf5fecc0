"""Group commit for the meter: the admissions and usage records of concurrent /v1 requests
share one write transaction.

Every /v1 request needs a database write (the daily cap must hold across processes, so it
is counted in the database). One transaction per request would queue every read behind
SQLite's single writer and pay BEGIN/COMMIT each time. Instead each request hands its work
to this process's `MeterBatcher` and waits; whenever the batcher is idle it takes
everything waiting and runs it in ONE transaction: the admissions of one key are decided
together under the lock of its day's row (two statements, repository.admit_requests, so
the cap stays exact across processes), and usage rows of the same key, day and category
are summed into one upsert.
There is no timer: a lone request is written at once; under load, requests that arrive
while a batch is being written form the next one. The request is answered only after its
batch committed, so a response's cost is always in the usage report.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime

from gossip.db.engine import Database
from gossip.developer import repository
from gossip.developer.pricing import Category
from gossip.developer.service import KeyContext, needs_touch, today


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
        # Admissions first, per key and day in arrival order: the day's count before the
        # batch, then each admitted request takes the next number until the cap.
        wanted: dict[tuple[int, date], list[int]] = {}
        limits: dict[tuple[int, date], int] = {}
        for index, work in enumerate(batch):
            if work.admit:
                slot = (work.key.key_id, today(work.now))
                wanted.setdefault(slot, []).append(index)
                limits[slot] = work.key.daily_limit
        results: list[int | None] = [0] * len(batch)
        usage: dict[tuple[int, date, str], list[int]] = {}
        touches: dict[int, datetime] = {}
        async with self.db.write_session() as session:
            for (key_id, day), indexes in wanted.items():
                limit = limits[(key_id, day)]
                before = await repository.admit_requests(session, key_id, day, limit, len(indexes))
                for offset, index in enumerate(indexes):
                    count = before + offset + 1
                    results[index] = count if count <= limit else None
            for work, result in zip(batch, results, strict=True):
                if not work.record or (work.admit and result is None):
                    continue  # refused requests are not recorded
                day = today(work.now)
                figures = usage.setdefault((work.key.key_id, day, work.category.value), [0, 0, 0])
                figures[0] += 1
                figures[1] += work.response_bytes
                figures[2] += work.cost
                if needs_touch(work.key, work.now):
                    touches[work.key.key_id] = work.now
            for (key_id, day, category), (requests, nbytes, cost) in usage.items():
                await repository.record_usage(
                    session, key_id, day, category, nbytes, cost, requests
                )
            for key_id, when in touches.items():
                await repository.touch(session, key_id, when)
            await session.commit()
        return results
