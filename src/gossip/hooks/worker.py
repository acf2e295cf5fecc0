"""The delivery worker: drains the outbox, in `gossip serve` or as `gossip worker`.

It claims due deliveries in small batches (a lease: their next attempt moves
GOSSIP_WEBHOOK_LEASE into the future, so a worker killed mid-POST leaves them due again,
and PostgreSQL's SKIP LOCKED lets several workers claim side by side), POSTs each one
signed (hooks/sender.py: keep-alive pools per origin, each new connection to an address
netguard checked), at most GOSSIP_WEBHOOK_CONCURRENCY at a time and
GOSSIP_WEBHOOK_CONNECTIONS_PER_ORIGIN to one origin, each within GOSSIP_WEBHOOK_TIMEOUT,
and records the outcomes in batches: each attempt (status, latency, error), the
delivery's new state, the endpoint's health. Every attempt of a delivery carries the same
`webhook-id`; delivery is at least once.

Outcomes: 2xx delivered. 410 Gone disables the endpoint. Anything else (another status,
a timeout, a refused or unreachable address) is retried after the next delay of
GOSSIP_WEBHOOK_RETRY_SCHEDULE, and given up after the last. An endpoint with no success
for GOSSIP_WEBHOOK_DISABLE_AFTER is disabled. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from gossip.config import Settings, retry_schedule
from gossip.db.engine import Database
from gossip.hooks import netguard, repository, signing
from gossip.hooks.sender import Sender, SendError
from gossip.kit import ids

log = logging.getLogger("gossip.webhooks")

_RECORD_GATHER = 0.005  # seconds


def webhook_id(delivery_id: int) -> str:
    return f"msg_{delivery_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    row: repository.Claimed
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Worker:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.schedule = retry_schedule(settings)
        self.concurrency = settings.webhook_concurrency
        self.posting = 0  # claimed, POST not finished
        self.unrecorded = 0  # POST finished, outcome not committed yet
        self._batch = max(1, self.concurrency // 4)
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()
        self._ready = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.sender = Sender(
            allow_private=settings.webhook_allow_private,
            timeout=settings.webhook_timeout,
            per_origin=min(settings.webhook_connections_per_origin, self.concurrency),
        )

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._claim_loop()), loop.create_task(self._record_loop())]

    async def close(self) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.sender.close()

    def wake(self) -> None:
        """Something was just enqueued in this process: look now, not at the next poll."""
        self._wake.set()

    # --- claiming --------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[repository.Claimed]:
        now = int(time.time() * 1000)
        async with self.db.write_session() as session:
            rows = await repository.claim(
                session,
                now=now,
                lease_until=now + int(self.settings.webhook_lease * 1000),
                limit=limit,
                skip_locked=not self.db.is_sqlite,
            )
            await session.commit()
        return rows

    async def _claim_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            free = self.concurrency - self.posting
            # Claim in batches: a claim is a write transaction, dear per row when small. A
            # finished POST frees its slot at once, its outcome is recorded meanwhile; but
            # when recording falls a whole concurrency behind, wait for it to catch up.
            if (
                free <= 0
                or (self.posting and free < self._batch)
                or self.unrecorded >= self.concurrency
            ):
                self._slot.clear()
                await self._slot.wait()
                continue
            self._wake.clear()
            try:
                rows = await self._claim(free)
            except Exception:
                log.exception("claiming webhook deliveries failed")
                rows = []
            self.sender.prune()
            if not rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_interval)
                continue
            self.posting += len(rows)
            for row in rows:
                task = loop.create_task(self._deliver(row))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    # --- delivering ------------------------------------------------------------------

    async def _deliver(self, row: repository.Claimed) -> None:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = await self._post(row)
        except netguard.Refused as refused:
            error = f"refused: {refused}"
        except TimeoutError:
            error = f"timed out after {self.settings.webhook_timeout:g} s"
        except (SendError, OSError) as failed:  # OSError: refused, unreachable, TLS
            error = f"{type(failed).__name__}: {failed}"[:300]
        except Exception as failed:  # one bad delivery must not stop the worker
            log.exception("delivering webhook %s failed", row.id)
            error = f"{type(failed).__name__}"[:300]
        latency = int((time.perf_counter() - started) * 1000)
        self._outcomes.append(Outcome(row, status, latency, error))
        self.posting -= 1
        self.unrecorded += 1
        self._ready.set()
        self._slot.set()

    async def _post(self, row: repository.Claimed) -> int:
        body = row.body.encode()
        headers = signing.headers(row.secret, webhook_id(row.id), int(time.time()), body)
        return await self.sender.post(row.url, headers.items(), body)

    # --- recording -------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            await self._ready.wait()
            # Let the outcomes finishing together share one transaction.
            await asyncio.sleep(_RECORD_GATHER)
            self._ready.clear()
            batch, self._outcomes = self._outcomes, []
            if not batch:
                continue
            try:
                await self._record(batch)
            except Exception:
                # The rows stay leased and come due again: at least once, never lost.
                log.exception("recording %d webhook outcomes failed", len(batch))
            self.unrecorded -= len(batch)
            self._slot.set()

    def _next(self, outcome: Outcome, now: int) -> dict[str, Any]:
        attempts = outcome.row.attempts + 1
        state: dict[str, Any] = {
            "id": outcome.row.id,
            "status": "pending",
            "attempts": attempts,
            "next_attempt_at": now,
            "last_status": outcome.status_code,
            "delivered_at": None,
        }
        if outcome.ok:
            state.update(status="delivered", delivered_at=now)
        elif outcome.status_code == 410:
            state["status"] = "failed"
        elif attempts <= len(self.schedule):
            state["next_attempt_at"] = now + int(self.schedule[attempts - 1] * 1000)
        else:
            state["status"] = "failed"
        return state

    async def _record(self, batch: list[Outcome]) -> None:
        now = int(time.time() * 1000)
        attempts = [
            {
                "id": ids.new_id(),
                "delivery_id": o.row.id,
                "status_code": o.status_code,
                "latency_ms": o.latency_ms,
                "error": o.error,
            }
            for o in batch
        ]
        states = [self._next(o, now) for o in batch]
        # Only endpoints failing when claimed need clearing: saves a statement per batch.
        healthy = {o.row.endpoint_id for o in batch if o.ok and o.row.failing}
        failing = {o.row.endpoint_id for o in batch if not o.ok} - {
            o.row.endpoint_id for o in batch if o.ok
        }
        gone = {o.row.endpoint_id for o in batch if o.status_code == 410}
        async with self.db.write_session() as session:
            await repository.add_attempts(session, attempts)
            await repository.finish(session, states)
            await repository.mark_healthy(session, healthy)
            await repository.mark_failing(session, failing, now)
            disabled = await repository.disable(session, gone, "the endpoint answered 410 Gone")
            cutoff = now - int(self.settings.webhook_disable_after * 1000)
            stale = await repository.failing_before(session, failing - gone, cutoff)
            disabled += await repository.disable(
                session, stale, "no successful delivery for too long"
            )
            await session.commit()
        for endpoint_id in disabled:
            log.warning("webhook endpoint %s disabled", endpoint_id)


async def run_forever(settings: Settings) -> None:
    """`gossip worker`: a worker without the HTTP server, until SIGINT or SIGTERM."""
    import signal

    from gossip.db.engine import connect

    db = connect(settings.resolved_database_url)
    worker = Worker(db, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    log.info("webhook worker started")
    try:
        await stop.wait()
    finally:
        await worker.close()
        await db.dispose()
