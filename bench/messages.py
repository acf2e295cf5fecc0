"""Messages benchmark: send throughput, history reads in a big channel, and the ceiling.

One run starts the server as users do (`gossip serve` in a subprocess, on a fresh
temporary data directory or a fresh PostgreSQL database), then:

1. sets up through the public API: `--users` accounts, one server, its #general channel,
   everyone joined through an invite (or, without invite routes, one account reused);
2. stops the server and writes `--messages` rows straight into the messages table of that
   channel (sqlite3, or COPY through asyncpg), then starts it again;
3. reads: `GET …/messages?limit=50` (the latest page) and `…&before=<random seeded id>`,
   from `--read-clients` connections, for `--read-duration` seconds each;
4. sends: `POST …/messages` from `--clients` keep-alive connections for `--duration`
   seconds after `--warmup`;
5. stops Gossip and drives bench/baseline.py (bare Starlette, same uvicorn options) with
   the very same requests and concurrency: the ceiling of this machine in this run.

It prints one JSON line on stdout (progress goes to stderr). Nothing is asserted: compare
`send_vs_baseline` with 0.25 and the read p99s with 10 ms, on the same machine.

    python -m bench.messages                      # the full million
    python -m bench.messages --messages 20000 --duration 3 --read-duration 2   # quick
    python -m bench.messages --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import loadgen, profile
from gossip.kit.ids import DISCORD_EPOCH_MS

REPO = Path(__file__).resolve().parent.parent
HOST = loadgen.LOOPBACK
# Seeded rows carry this worker number; they lie in the past, so they cannot collide
# with IDs the server makes while the benchmark runs.
SEED_WORKER = 1023
SEED_CONTENT = "seed message {}: the quick brown fox jumps over the lazy dog"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """The benchmark could not run (as opposed to: it ran and the figures are poor)."""


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # After the ")" field 3 (state) is index 0, so utime (14) and stime (15) are 11, 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    """A server subprocess on 127.0.0.1:`port`, up once /health answers."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, logs: Path):
        self.name = name
        self.port = port
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer {url} within {timeout:.0f}s: {self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def tail(self, lines: int = 15) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def gossip_argv() -> list[str]:
    script = Path(sys.executable).with_name("gossip")
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "gossip", "serve"]


# --- the API, for setup (not timed) ------------------------------------------------------


class Api:
    def __init__(self, port: int) -> None:
        self.client = httpx.Client(base_url=f"http://{HOST}:{port}/api", timeout=30.0)

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.request(method, path, headers=headers, json=body)
        try:
            payload = response.json()
        except ValueError:
            payload = {"raw": response.text[:200]}
        return response.status_code, payload

    def data(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        status, payload = self.call(method, path, token, body)
        if status >= 300 or not isinstance(payload, dict) or not payload.get("success"):
            raise BenchError(f"{method} /api{path} answered {status}: {payload}")
        return payload["data"]

    def close(self) -> None:
        self.client.close()


@dataclass
class Setup:
    tokens: list[str]  # one per member, the owner first
    user_ids: list[int]
    server_id: int
    channel_id: int


def set_up(api: Api, users: int) -> Setup:
    run = uuid.uuid4().hex[:6]

    def register(i: int) -> tuple[str, int]:
        data = api.data(
            "POST",
            "/auth/register",
            body={
                "username": f"bench{run}u{i}",
                "email": f"bench{run}u{i}@example.com",
                "password": "bench-password-1",
            },
        )
        return data["token"], int(data["user"]["id"])

    owner_token, owner_id = register(0)
    server_id = int(api.data("POST", "/servers", owner_token, {"name": "Bench"})["id"])
    channels = api.data("GET", f"/servers/{server_id}/channels", owner_token)
    text = [c for c in channels if c.get("name") == "general"] or channels
    if not text:
        raise BenchError(f"server {server_id} has no channel to write in")
    channel_id = int(text[0]["id"])

    tokens, user_ids = [owner_token], [owner_id]
    if users > 1:
        code = None
        for body in ({"maxUses": 0, "maxAge": 0}, {}):
            status, payload = api.call("POST", f"/servers/{server_id}/invites", owner_token, body)
            if status < 300 and isinstance(payload, dict) and payload.get("success"):
                code = payload["data"]["code"]
                break
        if code is None:
            log(f"no invites ({status}): every client uses the owner's token")
        else:
            for i in range(1, users):
                token, user_id = register(i)
                status, payload = api.call("POST", f"/invites/{code}", token)
                if status >= 300:
                    log(f"joining through an invite answered {status}: {payload}; stopping at {i}")
                    break
                tokens.append(token)
                user_ids.append(user_id)
    return Setup(tokens, user_ids, server_id, channel_id)


# --- seeding -------------------------------------------------------------------------------


def seed_ids(count: int) -> tuple[int, int]:
    """(first millisecond, count): seeded message i has ID `seeded_id(start, i)`."""
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    # One message a millisecond, ending a minute ago: all older than anything sent later.
    return now_ms - 60_000 - count, count


def seeded_id(start_ms: int, i: int) -> int:
    return ((start_ms + i) << 22) | (SEED_WORKER << 12)


# Every NOT NULL column of `messages` (migration 0001) and what seeded rows hold there.
KNOWN_COLUMNS = (
    "id",
    "channel_id",
    "author_id",
    "content",
    "type",
    "tts",
    "pinned",
    "mention_everyone",
    "mentions",
    "mention_roles",
    "embeds",
    "edited_at",
)


def seed_rows(
    start_ms: int, count: int, channel_id: int, authors: Sequence[int]
) -> Iterator[tuple[Any, ...]]:
    n_authors = len(authors)
    for i in range(count):
        yield (
            seeded_id(start_ms, i),
            channel_id,
            authors[i % n_authors],
            SEED_CONTENT.format(i),
            0,
            False,
            False,
            False,
        )


def seed_sqlite(
    path: Path,
    channel_id: int,
    authors: Sequence[int],
    start_ms: int,
    count: int,
    rows: Iterable[tuple[Any, ...]] | None = None,
) -> int:
    """Appends the rows in one transaction; returns the channel's message count after.
    `rows` (as seed_rows makes them) replaces the default ones (bench/search.py)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        columns = con.execute("PRAGMA table_info(messages)").fetchall()
        unknown = [
            c[1]
            for c in columns
            if c[3] and c[4] is None and not c[5] and c[1] not in KNOWN_COLUMNS
        ]
        if unknown:
            raise BenchError(f"messages has new NOT NULL columns {unknown}: teach bench/ them")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO messages (id, channel_id, author_id, content, type, tts, pinned,"
            " mention_everyone) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows if rows is not None else seed_rows(start_ms, count, channel_id, authors),
        )
        last = seeded_id(start_ms, count - 1) if count else None
        con.execute(
            "UPDATE channels SET last_message_id = ? WHERE id = ?"
            " AND (last_message_id IS NULL OR last_message_id < ?)",
            (last, channel_id, last),
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (total,) = con.execute(
            "SELECT count(*) FROM messages WHERE channel_id = ?", (channel_id,)
        ).fetchone()
        return int(total)
    finally:
        con.close()


def plain_pg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def seed_postgres(
    url: str,
    channel_id: int,
    authors: Sequence[int],
    start_ms: int,
    count: int,
    records: Iterable[tuple[Any, ...]] | None = None,
) -> int:
    """COPYs the rows in one transaction; `records` as in seed_sqlite's `rows`."""
    import asyncpg

    con = await asyncpg.connect(plain_pg_url(url))
    try:
        rows = await con.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'messages'"
            " AND is_nullable = 'NO' AND column_default IS NULL"
        )
        unknown = [r["column_name"] for r in rows if r["column_name"] not in KNOWN_COLUMNS]
        if unknown:
            raise BenchError(f"messages has new NOT NULL columns {unknown}: teach bench/ them")
        async with con.transaction():
            await con.copy_records_to_table(
                "messages",
                records=records
                if records is not None
                else seed_rows(start_ms, count, channel_id, authors),
                columns=[
                    "id",
                    "channel_id",
                    "author_id",
                    "content",
                    "type",
                    "tts",
                    "pinned",
                    "mention_everyone",
                ],
            )
            last = seeded_id(start_ms, count - 1) if count else None
            await con.execute(
                "UPDATE channels SET last_message_id = $1 WHERE id = $2"
                " AND (last_message_id IS NULL OR last_message_id < $1)",
                last,
                channel_id,
            )
        # Autovacuum would analyze a table after such a load within a minute anyway.
        await con.execute("ANALYZE messages")
        total = await con.fetchval(
            "SELECT count(*) FROM messages WHERE channel_id = $1", channel_id
        )
        return int(total)
    finally:
        await con.close()


@contextlib.contextmanager
def postgres_database(admin_url: str, *, keep: bool = False) -> Iterator[str]:
    """A new database on the server of `admin_url`, dropped afterwards unless `keep` (then
    its name is logged, for EXPLAIN on the seeded data; drop it yourself)."""
    import asyncpg

    name = f"gossip_bench_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        con = await asyncpg.connect(plain_pg_url(admin_url))
        try:
            await con.execute(sql)
        finally:
            await con.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    if base.startswith("postgresql://"):
        base = base.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            log(f"database {name} kept: DROP DATABASE {name} when done with it")
        else:
            asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- load ------------------------------------------------------------------------------------


def send_requests(
    port: int, channel_id: int, tokens: Sequence[str], clients: int
) -> list[list[bytes]]:
    """Per client, a few distinct message bodies; client i writes as member i (mod members)."""
    path = f"/api/channels/{channel_id}/messages"
    return [
        [
            loadgen.build_request(
                "POST",
                path,
                port=port,
                token=tokens[c % len(tokens)],
                body=orjson.dumps({"content": f"bench message {k} from client {c}"}),
            )
            for k in range(8)
        ]
        for c in range(clients)
    ]


def read_requests(
    port: int, channel_id: int, token: str, befores: Sequence[int] | None
) -> list[bytes]:
    path = f"/api/channels/{channel_id}/messages?limit=50"
    if befores is None:
        return [loadgen.build_request("GET", path, port=port, token=token)]
    return [
        loadgen.build_request("GET", f"{path}&before={b}", port=port, token=token) for b in befores
    ]


@dataclass
class Measured:
    result: loadgen.Result
    server_cpu: float  # cores used by the server process during the window

    def ok(self, *statuses: int) -> int:
        return self.result.count(*statuses)

    @staticmethod
    def merge(rounds: Sequence[Measured]) -> Measured:
        """Several windows as one: counts and samples pooled, CPU averaged over time."""
        window = sum(m.result.window_s for m in rounds)
        result = loadgen.Result(window_s=window, clients=rounds[0].result.clients)
        for m in rounds:
            result.latencies_ns.extend(m.result.latencies_ns)
            result.statuses.update(m.result.statuses)
            result.errors += m.result.errors
            result.cpu_s += m.result.cpu_s
        cpu = sum(m.server_cpu * m.result.window_s for m in rounds) / window
        return Measured(result, cpu)


def measure(
    server: Process,
    requests: list[list[bytes]],
    warmup: float,
    duration: float,
    profile_to: Path | None = None,
) -> Measured:
    """Runs the load; with `profile_to`, py-spy samples the server during the window."""
    cpu: dict[str, float] = {}
    recorder: list[subprocess.Popen[bytes]] = []

    def mark(which: str) -> None:
        cpu[which] = cpu_seconds(server.pid)
        if which == "start" and profile_to is not None:
            recorder.append(profile.record(server.pid, duration, profile_to))

    result = loadgen.run_sync(
        port=server.port,
        requests=requests,
        warmup_s=warmup,
        duration_s=duration,
        on_window=mark,
    )
    if recorder and profile_to is not None:
        try:
            recorder[0].wait(timeout=duration + 30)
            log(profile.summarize(profile_to))
        except subprocess.TimeoutExpired:
            recorder[0].kill()
            log("py-spy did not finish")
    return Measured(result, (cpu["end"] - cpu["start"]) / duration)


def check_page(api: Api, channel_id: int, token: str, before: int | None) -> None:
    query = f"?limit=50&before={before}" if before else "?limit=50"
    page = api.data("GET", f"/channels/{channel_id}/messages{query}", token)
    if not isinstance(page, list) or len(page) != 50:
        got = len(page) if isinstance(page, list) else type(page).__name__
        raise BenchError(f"GET messages{query} gave {got} messages, not 50")
    if before and any(int(m["id"]) >= before for m in page):
        raise BenchError(f"GET messages{query} gave messages not before {before}")


# --- the run ----------------------------------------------------------------------------------


def gossip_env(data_dir: Path, port: int, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_")}
    env.update(
        GOSSIP_HOST=HOST,
        GOSSIP_PORT=str(port),
        GOSSIP_DATA_DIR=str(data_dir),
        GOSSIP_SECRET_KEY="bench-" + uuid.uuid4().hex,
        GOSSIP_LOG_LEVEL="warning",
        # 64 clients sending flat out are far over spec 004's 2000 requests/minute.
        GOSSIP_RATE_LIMITS="false",
        # Cheap argon2 for the setup's registrations only; no request measured hashes.
        GOSSIP_ARGON2_TIME_COST="1",
        GOSSIP_ARGON2_MEMORY_KIB="64",
        # Setup tokens must outlive seeding a million rows.
        GOSSIP_ACCESS_TOKEN_TTL="86400",
    )
    if database_url:
        env["GOSSIP_DATABASE_URL"] = database_url
    return env


def profiled(args: argparse.Namespace, phase: str) -> Path | None:
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    return args.profile / f"{phase}.txt"


def ms(value: float) -> float:
    return round(value, 3)


def run(args: argparse.Namespace, work: Path, database_url: str | None) -> dict[str, Any]:
    data_dir = work / "data"
    port = free_port()
    load_before = os.getloadavg()[0]
    env = gossip_env(data_dir, port, database_url)
    figures: dict[str, Any] = {"bench": "messages"}

    log(f"starting gossip serve on {HOST}:{port} ({'postgresql' if database_url else 'sqlite'})")
    server = Process("gossip", gossip_argv(), env, port, work)
    try:
        server.wait_ready()
        api = Api(port)
        try:
            setup = set_up(api, args.users)
            log(f"{len(setup.tokens)} member(s) in server {setup.server_id}, #{setup.channel_id}")
            status, payload = api.call(
                "POST",
                f"/channels/{setup.channel_id}/messages",
                setup.tokens[-1],
                {"content": "hello before seeding"},
            )
            if status != 201:
                raise BenchError(f"POST /api/channels/:id/messages answered {status}: {payload}")
        finally:
            api.close()
    finally:
        server.stop()

    log(f"seeding {args.messages:,} messages")
    start_ms, count = seed_ids(args.messages)
    started = time.perf_counter()
    if database_url:
        in_channel = asyncio.run(
            seed_postgres(database_url, setup.channel_id, setup.user_ids, start_ms, count)
        )
    else:
        in_channel = seed_sqlite(
            data_dir / "gossip.db", setup.channel_id, setup.user_ids, start_ms, count
        )
    figures["seed_s"] = round(time.perf_counter() - started, 1)
    log(f"seeded in {figures['seed_s']}s; {in_channel:,} messages in the channel")

    server = Process("gossip", gossip_argv(), env, port, work)
    try:
        server.wait_ready()
        reader_token = setup.tokens[-1]
        rng = random.Random(args.seed)
        befores = [seeded_id(start_ms, rng.randrange(min(50, count), count)) for _ in range(1000)]
        api = Api(port)
        try:
            check_page(api, setup.channel_id, reader_token, None)
            check_page(api, setup.channel_id, reader_token, befores[0])
        finally:
            api.close()

        for name, these in (("latest", None), ("before", befores)):
            log(f"reading {name} pages from {args.read_clients} client(s)")
            requests = read_requests(port, setup.channel_id, reader_token, these)
            # Each client starts at its own place in the list of random IDs.
            per_client = [requests[i:] + requests[:i] for i in range(args.read_clients)]
            reads = measure(
                server, per_client, 1.0, args.read_duration, profiled(args, f"read_{name}")
            )
            figures[f"read_{name}_p50_ms"] = ms(reads.result.percentile_ms(50))
            figures[f"read_{name}_p99_ms"] = ms(reads.result.percentile_ms(99))
            figures[f"read_{name}_rps"] = round(reads.result.rps(200), 1)
            bad = reads.result.completed - reads.ok(200) + reads.result.errors
            if bad:
                figures[f"read_{name}_errors"] = bad
        figures["read_clients"] = args.read_clients
        figures["messages_in_channel"] = in_channel

        # The baseline waits, idle, beside Gossip, so that with --rounds the two can take
        # turns and a neighbour's load on the machine falls on both alike.
        baseline_port = free_port()
        log(f"starting the baseline on {HOST}:{baseline_port}")
        baseline = Process(
            "baseline",
            [sys.executable, "-m", "bench.baseline", "--host", HOST, "--port", str(baseline_port)],
            env,
            baseline_port,
            work,
        )
        try:
            baseline.wait_ready()
            send_rounds: list[Measured] = []
            base_rounds: list[Measured] = []
            for r in range(args.rounds):
                log(
                    f"round {r + 1}/{args.rounds}: {args.clients} clients,"
                    f" {args.warmup}+{args.duration}s each on Gossip, then the baseline"
                )
                requests = send_requests(port, setup.channel_id, setup.tokens, args.clients)
                send_rounds.append(
                    measure(
                        server,
                        requests,
                        args.warmup,
                        args.duration,
                        profiled(args, "send") if r == 0 else None,
                    )
                )
                requests = send_requests(
                    baseline_port, setup.channel_id, setup.tokens, args.clients
                )
                base_rounds.append(measure(baseline, requests, args.warmup, args.duration))
        finally:
            baseline.stop()
    finally:
        server.stop()

    sends = Measured.merge(send_rounds)
    base = Measured.merge(base_rounds)
    send_rps = sends.result.rps(201)
    baseline_rps = base.result.rps(201)
    figures.update(
        send_rps=round(send_rps, 1),
        send_p50_ms=ms(sends.result.percentile_ms(50)),
        send_p99_ms=ms(sends.result.percentile_ms(99)),
        send_errors=sends.result.completed - sends.ok(201) + sends.result.errors,
        baseline_rps=round(baseline_rps, 1),
        baseline_p50_ms=ms(base.result.percentile_ms(50)),
        baseline_p99_ms=ms(base.result.percentile_ms(99)),
        send_vs_baseline=round(send_rps / baseline_rps, 3) if baseline_rps else None,
        server_cpu_send=round(sends.server_cpu, 2),
        server_cpu_baseline=round(base.server_cpu, 2),
        loadgen_cpu_send=round(sends.result.cpu_s / sends.result.window_s, 2),
        loadgen_cpu_baseline=round(base.result.cpu_s / base.result.window_s, 2),
        clients=args.clients,
        send_users=len(setup.tokens),
        duration_s=args.duration * args.rounds,
        warmup_s=args.warmup,
        rounds=args.rounds,
        python=platform.python_version(),
        database="postgresql" if database_url else "sqlite",
        cpus=os.cpu_count(),
        # Anything else running on the machine skews every figure: look here first.
        loadavg_1m_before=round(load_before, 2),
        loadavg_1m_after=round(os.getloadavg()[0], 2),
    )
    # Order the line as documented: headline figures first.
    first = [
        "bench",
        "send_rps",
        "send_p50_ms",
        "send_p99_ms",
        "baseline_rps",
        "send_vs_baseline",
        "read_latest_p50_ms",
        "read_latest_p99_ms",
        "read_before_p50_ms",
        "read_before_p99_ms",
        "messages_in_channel",
        "clients",
        "duration_s",
        "python",
        "database",
    ]
    return {k: figures[k] for k in first} | {k: v for k, v in figures.items() if k not in first}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.messages", description="Gossip messages benchmark"
    )
    parser.add_argument("--messages", type=int, default=1_000_000, help="rows seeded")
    parser.add_argument("--clients", type=int, default=64, help="concurrent senders")
    parser.add_argument("--users", type=int, help="distinct accounts (default: --clients)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate send and baseline windows this many times (pooled); helps on a"
        " machine others use too",
    )
    parser.add_argument("--read-clients", type=int, default=1, help="concurrent readers")
    parser.add_argument("--read-duration", type=float, default=5.0, help="seconds per read kind")
    parser.add_argument("--seed", type=int, default=1, help="for the random `before` IDs")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+asyncpg://user@127.0.0.1:5432/db): the bench"
        " creates a fresh database there and drops it afterwards; default SQLite",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server with py-spy in each measured window (see bench/profile.py)",
    )
    args = parser.parse_args(argv)
    args.users = args.users or args.clients
    if args.rounds < 1 or args.clients < 1 or args.read_clients < 1:
        parser.error("--rounds, --clients and --read-clients must be at least 1")
    if args.messages < 100:
        parser.error("--messages must be at least 100")
    if args.profile is not None and profile.py_spy() is None:
        parser.error("--profile needs py-spy: .venv/bin/pip install py-spy")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql:// or postgresql+asyncpg:// URL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gossip-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            url = (
                stack.enter_context(postgres_database(args.database_url))
                if args.database_url
                else None
            )
            figures = run(args, work, url)
    except BenchError as error:
        log(f"failed: {error}")
        log(f"logs in {work}")
        return 1
    if args.keep:
        log(f"data and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
