"""Outgoing webhooks (issue 5): deliveries per second from one worker, and commit→delivery.

Starts `gossip serve` as users do (fresh data directory), registers one account on the Pro
plan (`gossip set-plan`), one live API key, and `--listeners` spec 000 listeners pointing
at a local receiver (an asyncio HTTP/1.1 server in this process, answering 200 at once).
A publish (`POST /v1/core/messages/new/log`) then queues one delivery per listener.

1. Latency: with the worker inside `gossip serve`, publishes at `--rate` per second for
   `--duration` s; each delivery's commit→delivery time is its arrival at the receiver
   minus the time in its webhook-id (`msg_<snowflake>`, minted in the transaction just
   before it commits: millisecond resolution).
2. Throughput: restarts the server with GOSSIP_WEBHOOK_WORKER=false, queues
   `--deliveries` (publishes of `--listeners` each), then starts one `gossip worker` and
   times the receiver from first arrival to last.
3. Baselines, same run: another process POSTs the same number of bodies of the same size
   to the same receiver at the worker's concurrency, with no database and no signing,
   through the worker's own HTTP client (hooks/sender.py): the ceiling of the worker's
   sending on this machine. Then (up to 5,000 POSTs) the same with httpx.AsyncClient, the
   client the worker used before.

Prints one JSON line; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench import profile
from bench.messages import (
    HOST,
    REPO,
    BenchError,
    Process,
    cpu_seconds,
    free_port,
    gossip_env,
    log,
    postgres_database,
)
from gossip.kit.ids import DISCORD_EPOCH_MS

_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_WEBHOOK_ID = re.compile(rb"(?i)\r\nwebhook-id:\s*msg_(\d+)")
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Receiver:
    """Records (arrival time, snowflake of the webhook-id) of every POST; answers 200."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        receiver = self

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport: asyncio.Transport = transport  # type: ignore[assignment]
                self.buffer = b""

            def data_received(self, data: bytes) -> None:
                self.buffer += data
                while True:
                    end = self.buffer.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    head = self.buffer[: end + 2]
                    found = _LENGTH.search(head)
                    length = int(found.group(1)) if found else 0
                    if len(self.buffer) < end + 4 + length:
                        return
                    wid = _WEBHOOK_ID.search(head)
                    receiver.arrivals.append((time.time(), int(wid.group(1)) if wid else 0))
                    self.buffer = self.buffer[end + 4 + length :]
                    self.transport.write(_OK)

        server = self.loop.run_until_complete(
            self.loop.create_server(Protocol, HOST, self.port, backlog=1024)
        )
        try:
            self.loop.run_forever()
        finally:
            server.close()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def count(self) -> int:
        return len(self.arrivals)

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise BenchError(f"receiver got {self.count()} of {count} in {timeout:.0f}s")
            time.sleep(0.01)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def snowflake_seconds(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


# --- setup ---------------------------------------------------------------------------------


def gossip(env: dict[str, str], *argv: str) -> None:
    script = Path(sys.executable).with_name("gossip")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "gossip"]
    done = subprocess.run([*base, *argv], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"gossip {' '.join(argv)}: {done.stderr[-500:]}")


def set_up(port: int, env: dict[str, str], listeners: int, url: str) -> str:
    """An account on Pro, a live key, `listeners` listeners of `log`; the key's secret."""
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as http:
        account = {
            "username": f"bench{tag}",
            "email": f"bench{tag}@example.com",
            "password": "correct horse battery",
        }
        answer = http.post("/api/auth/register", json=account)
        if answer.status_code != 201:
            raise BenchError(f"register: {answer.status_code} {answer.text[:200]}")
        token = answer.json()["data"]["token"]
        gossip(env, "set-plan", account["username"], "pro")
        answer = http.post(
            "/api/developer/keys",
            headers={"Authorization": f"Bearer {token}"},
            json={"mode": "live"},
        )
        if answer.status_code != 201:
            raise BenchError(f"key: {answer.status_code} {answer.text[:200]}")
        key = str(answer.json()["data"]["secret"])
        for _ in range(listeners):
            answer = http.post(
                "/v1/core/messages/register/log",
                headers={"Authorization": f"Bearer {key}"},
                json={"url": url},
            )
            if answer.status_code != 201:
                raise BenchError(f"register listener: {answer.status_code} {answer.text[:200]}")
        return key


def publish(http: httpx.Client, key: str, n: int) -> None:
    answer = http.post(
        "/v1/core/messages/new/log",
        headers={"Authorization": f"Bearer {key}"},
        json={"data": {"n": n, "text": "x" * 200}},
    )
    if answer.status_code != 200:
        raise BenchError(f"publish: {answer.status_code} {answer.text[:200]}")


# --- the baseline sender (a subprocess) ------------------------------------------------------


async def _baseline(kind: str, port: int, count: int, concurrency: int, size: int) -> float:
    body = b'{"event":"x:log","data":' + b'"' + b"x" * size + b'"}'
    url = f"http://{HOST}:{port}/hook"
    queue = iter(range(count))
    if kind == "sender":
        from gossip.hooks.sender import Sender

        # GOSSIP_WEBHOOK_CONNECTIONS_PER_ORIGIN's default, as the worker runs here.
        sender = Sender(allow_private=True, timeout=5.0, per_origin=min(16, concurrency))

        async def one(_: int) -> None:
            for n in queue:
                headers = [("content-type", "application/json"), ("webhook-id", f"msg_{n}")]
                await sender.post(url, headers, body)

        close = sender.close
    else:
        # Pools of 4 connections taken in turn, as the worker once did.
        per = min(4, concurrency)
        limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
        clients = [
            httpx.AsyncClient(limits=limits, timeout=5.0) for _ in range(-(-concurrency // per))
        ]

        async def one(i: int) -> None:
            client = clients[i % len(clients)]
            for n in queue:
                headers = {"content-type": "application/json", "webhook-id": f"msg_{n}"}
                await client.post(url, content=body, headers=headers)

        async def close() -> None:
            for client in clients:
                await client.aclose()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    await close()
    return elapsed


def baseline_main(kind: str, port: int, count: int, concurrency: int, size: int) -> None:
    import uvloop  # as `gossip worker` runs

    print(uvloop.run(_baseline(kind, port, count, concurrency, size)))


def run_baseline(kind: str, port: int, count: int, concurrency: int) -> float:
    """POSTs per second of a bare sender of `kind` in a subprocess."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.webhooks",
            "--baseline-sender",
            kind,
            str(port),
            str(count),
            str(concurrency),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_")},
    )
    if done.returncode != 0:
        raise BenchError(f"baseline sender: {done.stderr[-500:]}")
    return count / float(done.stdout.strip().splitlines()[-1])


# --- the run -------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path, database_url: str | None) -> dict[str, Any]:
    receiver = Receiver()
    receiver.start()
    url = f"http://{HOST}:{receiver.port}/hook"
    port = free_port()
    env = gossip_env(work / "data", port, database_url)
    env.update(
        GOSSIP_WEBHOOK_ALLOW_PRIVATE="true",
        GOSSIP_WEBHOOK_CONCURRENCY=str(args.concurrency),
    )
    result: dict[str, Any] = {}
    server = Process("gossip", [sys.executable, "-m", "gossip", "serve"], env, port, work)
    try:
        server.wait_ready()
        key = set_up(port, env, args.listeners, url)

        # 1. commit -> delivery, worker inside serve, at a steady rate.
        log(f"latency: {args.rate} publishes/s x {args.listeners} listeners, {args.duration}s")
        publishes = int(args.rate * args.duration)
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as http:
            started = time.perf_counter()
            for n in range(publishes):
                wait = started + n / args.rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                publish(http, key, n)
        receiver.wait_for(publishes * args.listeners, 60)
        latencies = [at - snowflake_seconds(s) for at, s in receiver.arrivals]
        result.update(
            latency_deliveries=len(latencies),
            latency_rate_per_s=args.rate * args.listeners,
            commit_to_delivery_p50_ms=round(percentile(latencies, 50) * 1000, 1),
            commit_to_delivery_p99_ms=round(percentile(latencies, 99) * 1000, 1),
            commit_to_delivery_max_ms=round(max(latencies) * 1000, 1),
        )
    finally:
        server.stop()

    # 2. one `gossip worker` drains a full outbox.
    receiver.arrivals.clear()
    env["GOSSIP_WEBHOOK_WORKER"] = "false"
    server = Process("gossip", [sys.executable, "-m", "gossip", "serve"], env, port, work)
    worker: subprocess.Popen[bytes] | None = None
    try:
        server.wait_ready()
        publishes = max(1, args.deliveries // args.listeners)
        total = publishes * args.listeners
        log(f"throughput: queueing {total} deliveries")
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as http:
            for n in range(publishes):
                publish(http, key, n)
        time.sleep(0.5)
        if receiver.count():
            raise BenchError("deliveries arrived with the worker switched off")
        log("throughput: starting gossip worker")
        with (work / "worker.log").open("ab") as worker_log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "gossip", "worker"],
                env=env,
                cwd=REPO,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
        receiver.wait_for(1, 60)
        cpu_before = cpu_seconds(worker.pid)
        recorder = None
        if args.profile is not None:
            # Samples the first part of the drain only: py-spy needs a whole-second duration.
            recorder = profile.record(worker.pid, 5, args.profile / "worker.txt")
        receiver.wait_for(total, 300)
        cpu_after = cpu_seconds(worker.pid)
        if recorder is not None:
            recorder.wait()
            log(profile.summarize(args.profile / "worker.txt"))
        times = sorted(at for at, _ in receiver.arrivals)
        span = times[-1] - times[0]
        rate = (len(times) - 1) / span if span > 0 else float("nan")
        result.update(
            throughput_deliveries=total,
            deliveries_per_s=round(rate, 1),
            worker_cpu=round((cpu_after - cpu_before) / span, 2) if span > 0 else None,
        )
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=20)
            if worker.poll() is None:
                worker.kill()
        server.stop()

    # 3. the baselines: the same POSTs from bare senders.
    receiver.arrivals.clear()
    baseline = run_baseline("sender", receiver.port, args.deliveries, args.concurrency)
    httpx_rate = run_baseline("httpx", receiver.port, min(args.deliveries, 5000), args.concurrency)
    receiver.stop()
    result.update(
        baseline_posts_per_s=round(baseline, 1),
        worker_vs_baseline=round(result["deliveries_per_s"] / baseline, 3),
        httpx_posts_per_s=round(httpx_rate, 1),
        listeners=args.listeners,
        concurrency=args.concurrency,
        database="postgresql" if database_url else "sqlite",
        python=platform.python_version(),
        cpus=os.cpu_count(),
        loadavg_1m_before=args.loadavg,
    )
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", type=int, default=50, help="max 50 per account")
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=10.0, help="publishes/s, latency phase")
    parser.add_argument("--duration", type=float, default=10.0, help="s, latency phase")
    parser.add_argument("--concurrency", type=int, default=64, help="GOSSIP_WEBHOOK_CONCURRENCY")
    parser.add_argument("--database-url", help="a PostgreSQL URL (a fresh database is made)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample `gossip worker` with py-spy for 5 s of the drain into DIR/worker.txt",
    )
    parser.add_argument("--baseline-sender", nargs=4, metavar=("KIND", "PORT", "COUNT", "CONC"))
    args = parser.parse_args(argv)
    if args.profile is not None:
        if profile.py_spy() is None:
            parser.error("--profile needs py-spy: .venv/bin/pip install py-spy")
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.baseline_sender:
        kind, *numbers = args.baseline_sender
        port, count, concurrency = (int(v) for v in numbers)
        baseline_main(kind, port, count, concurrency, 200)
        return
    args.loadavg = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gossip-bench-hooks-") as tmp:
        work = Path(tmp)
        try:
            if args.database_url:
                with postgres_database(args.database_url) as url:
                    result = run(args, work, url)
            else:
                result = run(args, work, None)
        except BenchError as error:
            log(f"failed: {error}")
            sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
