"""A small closed-loop HTTP/1.1 load generator over keep-alive connections.

Each client is one TCP connection driven entirely from asyncio protocol callbacks: it
writes a pre-built request, waits for the whole response (status line + Content-Length
body), records the latency and immediately writes the next request. No coroutine, future
or header dictionary is created per request, so one Python process can drive a few
tens of thousands of requests per second and the figures describe the server, not the
client. `Result.cpu_s` says how much CPU the generator itself used, to check that claim.

Every client stops by itself: after `max_requests` or when the run's time is up,
whichever comes first. Only loopback targets are allowed.

Run alone, e.g.:
    python -m bench.loadgen --port 8000 --path /health --clients 64 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

LOOPBACK = "127.0.0.1"


def build_request(
    method: str,
    path: str,
    *,
    host: str = LOOPBACK,
    port: int,
    token: str | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> bytes:
    """One HTTP/1.1 keep-alive request, as the bytes that go on the wire."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "User-Agent: gossip-bench"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


@dataclass
class Result:
    """What one run measured inside its window (after the warm-up, before the end)."""

    window_s: float
    clients: int
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    cpu_s: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies_ns)

    def count(self, *statuses: int) -> int:
        return sum(self.statuses[s] for s in statuses)

    def rps(self, *statuses: int) -> float:
        """Responses per second in the window; only those with `statuses` when given."""
        n = self.count(*statuses) if statuses else self.completed
        return n / self.window_s if self.window_s > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile_ms(self.latencies_ns, q)


def percentile_ms(latencies_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in milliseconds; NaN for no samples."""
    if not latencies_ns:
        return float("nan")
    ordered = sorted(latencies_ns)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1] / 1e6


class _Run:
    """Shared clock and tallies of one run; clients write into it directly."""

    def __init__(self, measure_from_ns: int, stop_at_ns: int, max_requests: int) -> None:
        self.measure_from_ns = measure_from_ns
        self.stop_at_ns = stop_at_ns
        self.max_requests = max_requests
        self.latencies_ns: list[int] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0


class _Client(asyncio.Protocol):
    """One keep-alive connection sending its requests in turn, one at a time."""

    def __init__(self, run: _Run, requests: Sequence[bytes], done: asyncio.Future[None]) -> None:
        self._run = run
        self._requests = requests
        self._next = 0
        self._sent = 0
        self._done = done
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._need = -1  # bytes of the whole current response once its head is parsed
        self._status = 0
        self._started_ns = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance here.
        self._transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        assert self._transport is not None
        now = time.perf_counter_ns()
        if now >= self._run.stop_at_ns or self._sent >= self._run.max_requests:
            self._finish()
            return
        request = self._requests[self._next]
        self._next = (self._next + 1) % len(self._requests)
        self._sent += 1
        self._started_ns = now
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            if self._need < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).lower()
                # "HTTP/1.1 201 Created"
                self._status = int(head[9:12])
                at = head.find(b"\r\ncontent-length:")
                if at < 0:
                    # Chunked or close-delimited bodies are not produced by the servers
                    # under test; count it and give up on this connection.
                    self._fail()
                    return
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                self._need = end + 4 + length
            if len(buffer) < self._need:
                return
            del buffer[: self._need]
            self._need = -1
            self._completed()
            if self._done.done():
                return

    def _completed(self) -> None:
        now = time.perf_counter_ns()
        run = self._run
        if self._started_ns >= run.measure_from_ns and now <= run.stop_at_ns:
            run.latencies_ns.append(now - self._started_ns)
            run.statuses[self._status] += 1
        self._send()

    def _fail(self) -> None:
        self._run.errors += 1
        self._finish()

    def _finish(self) -> None:
        self.close()
        if not self._done.done():
            self._done.set_result(None)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            # The server hung up while we still had work to do.
            self._run.errors += 1
            self._done.set_result(None)


async def run_load(
    *,
    port: int,
    requests: Sequence[Sequence[bytes]],
    warmup_s: float,
    duration_s: float,
    max_requests: int = 10_000_000,
    host: str = LOOPBACK,
    on_window: Callable[[str], None] | None = None,
) -> Result:
    """Drive one connection per entry of `requests` (each cycles through its own list).

    Clients start together; responses to requests started in the `duration_s` after the
    `warmup_s` and finished within it are measured. `on_window` is called with "start"
    and "end" at the edges of that window (to sample the server's CPU, say).
    """
    if host != LOOPBACK:
        raise ValueError("the load generator only talks to 127.0.0.1")
    if not requests or any(not r for r in requests):
        raise ValueError("every client needs at least one request")
    loop = asyncio.get_running_loop()
    start = time.perf_counter_ns()
    measure_from = start + int(warmup_s * 1e9)
    stop_at = measure_from + int(duration_s * 1e9)
    run = _Run(measure_from, stop_at, max_requests)
    dones: list[asyncio.Future[None]] = []
    clients: list[_Client] = []
    for client_requests in requests:
        done: asyncio.Future[None] = loop.create_future()
        dones.append(done)
        client = _Client(run, client_requests, done)
        clients.append(client)
        await loop.create_connection(lambda c=client: c, host, port)
    await asyncio.sleep(max(0.0, (measure_from - time.perf_counter_ns()) / 1e9))
    if on_window is not None:
        on_window("start")
    cpu_start = time.process_time()
    await asyncio.sleep(max(0.0, (stop_at - time.perf_counter_ns()) / 1e9))
    cpu = time.process_time() - cpu_start
    if on_window is not None:
        on_window("end")
    # A stuck response cannot hold the run hostage: give up a while after the end.
    _, pending = await asyncio.wait(dones, timeout=30)
    run.errors += len(pending)
    for client in clients:
        client.close()
    return Result(
        window_s=duration_s,
        clients=len(requests),
        latencies_ns=run.latencies_ns,
        statuses=run.statuses,
        errors=run.errors,
        cpu_s=cpu,
    )


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it comes with uvicorn[standard]), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_sync(**kwargs: object) -> Result:
    """`run_load` on a fresh event loop of its own."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(run_load(**kwargs))  # type: ignore[arg-type]
    finally:
        loop.close()


def summary(result: Result, ok_statuses: Sequence[int] = (200, 201)) -> dict[str, object]:
    return {
        "rps": round(result.rps(*ok_statuses), 1),
        "p50_ms": round(result.percentile_ms(50), 3),
        "p99_ms": round(result.percentile_ms(99), 3),
        "completed": result.completed,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "errors": result.errors,
        "clients": result.clients,
        "window_s": result.window_s,
        "loadgen_cpu": round(result.cpu_s / result.window_s, 3) if result.window_s else None,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--path", default="/")
    parser.add_argument("--body", help="request body (sent as application/json)")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    request = build_request(
        args.method,
        args.path,
        port=args.port,
        token=args.token,
        body=args.body.encode() if args.body is not None else None,
    )
    result = run_sync(
        port=args.port,
        requests=[[request]] * args.clients,
        warmup_s=args.warmup,
        duration_s=args.duration,
    )
    print(json.dumps(summary(result, ok_statuses=())))


if __name__ == "__main__":
    main()
