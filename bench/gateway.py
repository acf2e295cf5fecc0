"""Gateway benchmark: fan-out latency and throughput, the bare-websockets ceiling, RSS per socket.

One run starts the server as users do (`gossip serve` in a subprocess, on a fresh
temporary data directory, SQLite) and, from separate client processes on 127.0.0.1:

1. delivery: registers `--clients` users plus one sender, puts them all in one server
   (an invite), connects and authenticates one gateway socket per user (all of them see
   `#general`), waits for the connect-time presence traffic to settle, then the sender
   posts `POST /api/channels/:id/messages` at `--rate` messages/s for `--warmup` +
   `--duration` seconds. Each message's content is `gw <k> <time.time_ns() at send>`,
   so every receiver computes send→receive latency against the same clock;
2. baseline: bench/ws_baseline.py (a bare `websockets` server that `broadcast`s what a
   publisher socket sends) gets the same number of clients through the same harness and
   the same frames (a MESSAGE_CREATE shaped like Gossip's) at the same rate;
3. RSS: a fresh `gossip serve`; one authenticated socket warms it up, then VmRSS is read,
   `--rss-clients` idle authenticated sockets are added (one user, many sessions), and
   VmRSS is read again once it settles: (after - before) / count. The same for the baseline;
4. optionally (`--ramp-max`), keeps adding sockets to that server by `--ramp-step`, each
   step checked by one message that must reach every socket: the most this machine held.

It prints one JSON line on stdout (progress goes to stderr). bench/README.md explains
every figure. Nothing is asserted.

    python -m bench.gateway                                  # 1,000 clients, 50 msg/s, 20 s
    python -m bench.gateway --clients 200 --duration 5 --rss-clients 1000   # quick
    python -m bench.gateway --ramp-max 19000                 # also find the most sockets held

Client processes: each runs many sockets on one event loop. A socket is an
`asyncio.Protocol` driving the websockets library's sans-I/O `ClientProtocol` (handshake,
frame parsing, close handling), so a frame costs the client a few microseconds and no
coroutine; receivers find the marker in the frame's bytes rather than parsing its JSON.
The server and the clients share this machine's cores: the figures include
`server_cpu` and `clients_cpu` to show who used what.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from bench import loadgen, profile

REPO = Path(__file__).resolve().parent.parent
HOST = loadgen.LOOPBACK
MARKER = b'"content":"gw '
PUBLISHER_TOKEN = "publisher"  # bench/ws_baseline.py broadcasts what this socket sends
MAX_FRAME = 1 << 20
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
# Settings for the Gossip servers from --gossip-env (A/B runs of one setting).
EXTRA_ENV: dict[str, str] = {}
# A client process whose parent vanished exits by itself after this.
WORKER_LIFETIME_S = 3600.0
# Message numbers below this are checked for duplicates, with a bitmap per socket.
MAX_DEDUP_K = 1 << 20


def log(message: str) -> None:
    print(f"[gateway-bench] {message}", file=sys.stderr, flush=True)


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
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


class Server:
    """A server subprocess on 127.0.0.1:`port`, up once GET /health answers 200."""

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

    def alive(self) -> bool:
        return self.proc.poll() is None

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        url = f"http://{HOST}:{self.port}/health"
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise BenchError(f"{self.name} exited ({self.proc.returncode}): {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise BenchError(f"{self.name} did not answer {url} in {within:.0f}s: {self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # graceful shutdown
            try:
                self.proc.wait(timeout=15)
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


def gossip_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_")}
    env.update(
        GOSSIP_HOST=HOST,
        GOSSIP_PORT=str(port),
        GOSSIP_DATA_DIR=str(data_dir),
        GOSSIP_SECRET_KEY="bench-" + uuid.uuid4().hex,
        GOSSIP_LOG_LEVEL="warning",
        # A thousand registrations in a minute are far over spec 004's auth limits.
        GOSSIP_RATE_LIMITS="false",
        # Cheap argon2 for the setup's registrations only; nothing measured hashes.
        GOSSIP_ARGON2_TIME_COST="1",
        GOSSIP_ARGON2_MEMORY_KIB="64",
        # Setup tokens must outlive a long run (they are checked at AUTHENTICATE).
        GOSSIP_ACCESS_TOKEN_TTL="86400",
    )
    env.update(EXTRA_ENV)
    return env


def start_gossip(work: Path, name: str) -> Server:
    port = free_port()
    data_dir = work / f"{name}-data"
    log(f"starting gossip serve ({name}) on {HOST}:{port}, sqlite in {data_dir}")
    return Server(name, gossip_argv(), gossip_env(data_dir, port), port, work)


def start_baseline(work: Path, name: str) -> Server:
    port = free_port()
    log(f"starting bench/ws_baseline.py ({name}) on {HOST}:{port}")
    argv = [sys.executable, "-m", "bench.ws_baseline", "--host", HOST, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_")}
    return Server(name, argv, env, port, work)


# --- setup through the public API (not timed) --------------------------------------------


class Api:
    def __init__(self, port: int) -> None:
        self.client = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}/api",
            timeout=30.0,
            limits=httpx.Limits(max_connections=16),
        )

    async def data(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.request(method, path, headers=headers, json=body)
        try:
            payload = response.json()
        except ValueError:
            payload = {"raw": response.text[:200]}
        if response.status_code >= 300 or not isinstance(payload, dict):
            raise BenchError(f"{method} /api{path} answered {response.status_code}: {payload}")
        if not payload.get("success"):
            raise BenchError(f"{method} /api{path} answered {response.status_code}: {payload}")
        return payload["data"]

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Setup:
    sender_token: str
    member_tokens: list[str]
    server_id: int
    channel_id: int
    setup_s: float


async def set_up(port: int, members: int, concurrency: int = 8) -> Setup:
    """An owner (the sender) with a server; `members` more users joined through an invite."""
    started = time.monotonic()
    run = uuid.uuid4().hex[:6]
    api = Api(port)
    try:

        async def register(i: int) -> str:
            data = await api.data(
                "POST",
                "/auth/register",
                body={
                    "username": f"gw{run}u{i}",
                    "email": f"gw{run}u{i}@example.com",
                    "password": "bench-password-1",
                },
            )
            return str(data["token"])

        owner = await register(0)
        server_id = int((await api.data("POST", "/servers", owner, {"name": "Bench"}))["id"])
        channels = await api.data("GET", f"/servers/{server_id}/channels", owner)
        general = [c for c in channels if c.get("name") == "general"] or channels
        if not general:
            raise BenchError(f"server {server_id} has no channel")
        channel_id = int(general[0]["id"])
        tokens: list[str] = []
        if members:
            code = (await api.data("POST", f"/servers/{server_id}/invites", owner, {}))["code"]
            gate = asyncio.Semaphore(concurrency)

            async def member(i: int) -> str:
                async with gate:
                    token = await register(i)
                    await api.data("POST", f"/invites/{code}", token)
                    return token

            tokens = list(await asyncio.gather(*(member(i) for i in range(1, members + 1))))
        return Setup(owner, tokens, server_id, channel_id, time.monotonic() - started)
    finally:
        await api.close()


# --- the client side: many sockets per process ------------------------------------------


class GatewayClient(asyncio.Protocol):
    """One gateway socket, RFC 6455 by hand, driven from the event loop's callbacks.

    The opening handshake is written and checked here (status 101, `Sec-WebSocket-Accept`);
    the server's frames are parsed from the bytes as they come (a server never masks, so a
    frame is a 2-14 byte header and its payload); the client's own frames (AUTHENTICATE,
    HEARTBEAT, the baseline publisher's messages, the close reply) are masked by websockets'
    `Frame.serialize`. Reading a frame costs a header decode and a slice: the websockets
    library's sans-I/O parser (a generator and a `Frame` object per frame) cost the two
    client processes several times that, taken from the cores the server also needs, and
    the same for Gossip and the baseline alike (bench/README.md).
    """

    def __init__(self, harness: Harness, token: str) -> None:
        self.h = harness
        self.token = token
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.is_ready = False
        self.closed = False
        self.open = False  # the handshake's 101 was received and checked
        self.buffer = b""
        self.fragments: list[bytes] | None = None
        self.close_code: int | None = None
        self.last_seq = 0
        self.last_k = -1
        self.seen = bytearray()  # seen[k] == 1: message k arrived (duplicates are counted)
        self.heartbeat_s = 0.0
        self.next_heartbeat = math.inf

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        uri = self.h.uri
        self.transport.write(
            f"GET {uri.resource_name} HTTP/1.1\r\nHost: {uri.host}:{uri.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.buffer + data if self.buffer else data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            if not self._handshake(buf[:end]):
                self.buffer = b""
                return
            buf = buf[end + 4 :]
        # Whole frames, as many as arrived; a partial one waits in the buffer.
        at, size = 0, len(buf)
        while size - at >= 2:
            first, second = buf[at], buf[at + 1]
            if second & 0x80:
                self._settle("a masked frame from the server")
                self.abort()
                return
            length, start = second & 0x7F, at + 2
            if length == 126:
                if size - at < 4:
                    break
                length, start = int.from_bytes(buf[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                if size - at < 10:
                    break
                length, start = int.from_bytes(buf[at + 2 : at + 10], "big"), at + 10
            if length > MAX_FRAME:
                self._settle("frame too large")
                self.abort()
                return
            end = start + length
            if end > size:
                break
            self._frame(first, buf[start:end], now)
            at = end
        self.buffer = buf[at:] if at < size else b""

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        code = self.close_code if self.close_code is not None else 1006
        self.h.closes[code] += 1
        if self.is_ready:
            self.h.open_ready -= 1
        self._settle(f"closed {code}")

    # the protocol

    def _handshake(self, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        digest = hashlib.sha1((self.key + WS_GUID).encode()).digest()
        if not lines[0].startswith("HTTP/1.1 101 "):
            self._settle(f"handshake: {lines[0]}"[:80])
        elif headers.get("sec-websocket-accept") != base64.b64encode(digest).decode():
            self._settle("handshake: wrong Sec-WebSocket-Accept")
        elif headers.get("sec-websocket-extensions"):
            self._settle("handshake: an extension was negotiated")  # none was offered
        else:
            self.open = True
            return True
        self.abort()
        return False

    def _frame(self, first: int, payload: bytes, now: int) -> None:
        opcode = first & 0x0F
        if opcode == 0x1 or opcode == 0x0:  # text, or the continuation of a fragmented one
            if not first & 0x80:  # FIN clear: more fragments follow
                self.fragments = [*(self.fragments or []), payload]
                return
            if self.fragments is not None:
                payload, self.fragments = b"".join([*self.fragments, payload]), None
            self._text(payload, now)
        elif opcode == 0x8:  # close: remember the code, answer it; the server then hangs up
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._write(Frame(Opcode.CLOSE, payload[:2]))
        elif opcode == 0x9:  # ping (neither server sends them; answered anyway)
            self._write(Frame(Opcode.PONG, payload))
        elif opcode != 0xA:
            self.h.unexpected += 1

    # frames

    def _text(self, payload: bytes, now: int) -> None:
        h = self.h
        if payload.startswith(b'{"type":"HEARTBEAT_ACK"'):
            return  # not a dispatch: neither counted nor keeping `quiet` from settling
        h.frames += 1
        h.last_frame_ns = now
        if self.is_ready:
            if h.check_seq:
                at = payload.find(b'"seq":', 0, 80)
                if at >= 0:
                    end = payload.find(b",", at + 6, at + 32)
                    seq = int(payload[at + 6 : end])
                    if seq != self.last_seq + 1:
                        h.gaps += max(0, seq - self.last_seq - 1) or 1
                    self.last_seq = seq
            at = payload.find(MARKER)
            if at >= 0:
                at += len(MARKER)
                space = payload.find(b" ", at)
                quote = payload.find(b'"', space)
                k = int(payload[at:space])
                seen = self.seen
                if k < MAX_DEDUP_K:
                    if k >= len(seen):
                        seen.extend(bytes(k + 256 - len(seen)))
                    elif seen[k]:
                        h.duplicates += 1
                        return
                    seen[k] = 1
                if k < self.last_k:
                    h.reordered += 1  # concurrent sends may commit in either order
                self.last_k = k
                h.ks.append(k)
                h.sent.append(int(payload[space + 1 : quote]))
                h.recv.append(now)
            return
        body = orjson.loads(payload)
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "HELLO":
            self.heartbeat_s = body["data"]["heartbeatInterval"] / 1000
            self.send({"type": "AUTHENTICATE", "token": self.token})
        elif kind == "READY":
            self.is_ready = True
            h.open_ready += 1
            self.last_seq = int(body.get("seq", 0))
            # First heartbeat somewhere in the interval, so they do not all come at once.
            self.next_heartbeat = time.monotonic() + self.heartbeat_s * random.uniform(0.2, 0.8)
            self._settle("")
        else:
            h.unexpected += 1

    def send(self, body: dict[str, Any]) -> None:
        self.send_text(orjson.dumps(body))

    def send_text(self, payload: bytes) -> None:
        self._write(Frame(Opcode.TEXT, payload))

    def _write(self, frame: Frame) -> None:
        transport = self.transport
        if self.closed or transport is None or transport.is_closing() or not self.open:
            return
        transport.write(frame.serialize(mask=True))

    def _settle(self, error: str) -> None:
        if not self.ready.done():
            self.ready.set_result(error)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class Harness:
    """The sockets of one client process and what they received."""

    def __init__(self, port: int, path: str, check_seq: bool) -> None:
        self.port = port
        self.uri = parse_uri(f"ws://{HOST}:{port}{path}")
        self.check_seq = check_seq
        self.clients: list[GatewayClient] = []
        self.open_ready = 0
        self.frames = 0
        self.last_frame_ns = time.time_ns()
        self.gaps = 0
        self.duplicates = 0
        self.reordered = 0
        self.unexpected = 0
        self.closes: Counter[int] = Counter()
        # One entry per bench message received: its number, send and receive times.
        self.ks = array.array("q")
        self.sent = array.array("q")
        self.recv = array.array("q")
        self.stopping = False

    async def connect(
        self, tokens: Sequence[str], count: int, concurrency: int, rate: float, within: float
    ) -> dict[str, Any]:
        """Opens `count` more sockets (token i mod len), each until READY or failure."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        deadline = started + within
        gate = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()
        ok = 0

        async def one(client: GatewayClient) -> None:
            nonlocal ok
            try:
                await asyncio.wait_for(
                    loop.create_connection(lambda: client, HOST, self.port),
                    max(0.1, deadline - time.monotonic()),
                )
                self.clients.append(client)
                error = await asyncio.wait_for(
                    asyncio.shield(client.ready), max(0.1, deadline - time.monotonic())
                )
            except TimeoutError:
                error = "timeout"
                client.abort()
            except OSError as exc:
                error = f"connect: {exc.strerror or exc}"[:80]
            finally:
                gate.release()
            if error:
                errors[error] += 1
            else:
                ok += 1

        tasks = []
        for i in range(count):
            if rate > 0:
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            try:
                await asyncio.wait_for(gate.acquire(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                errors["not started (timeout)"] += count - i
                break
            client = GatewayClient(self, tokens[i % len(tokens)])
            tasks.append(asyncio.create_task(one(client)))
        await asyncio.gather(*tasks)
        return {
            "connected": ok,
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(5)),
            "elapsed_s": round(time.monotonic() - started, 2),
            "open": self.open_ready,
        }

    async def heartbeats(self) -> None:
        """Sends each ready socket's HEARTBEAT when due (checked once a second)."""
        until = time.monotonic() + WORKER_LIFETIME_S
        while not self.stopping and time.monotonic() < until:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for client in self.clients:
                if client.is_ready and not client.closed and client.next_heartbeat <= now:
                    client.next_heartbeat = now + client.heartbeat_s * 0.75
                    client.send({"type": "HEARTBEAT", "seq": client.last_seq})

    async def quiet(self, seconds: float, within: float) -> dict[str, Any]:
        """Waits until no frame arrived for `seconds` (the connect-time presence burst)."""
        started = time.monotonic()
        frames = self.frames
        while time.monotonic() - started < within:
            if time.time_ns() - self.last_frame_ns >= seconds * 1e9:
                break
            await asyncio.sleep(0.1)
        return {
            "quiet": time.time_ns() - self.last_frame_ns >= seconds * 1e9,
            "frames": self.frames - frames,
            "waited_s": round(time.monotonic() - started, 2),
        }

    def stats(self) -> dict[str, Any]:
        return {
            "open": self.open_ready,
            "sockets": len(self.clients),
            "frames": self.frames,
            "deliveries": len(self.ks),
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "unexpected": self.unexpected,
            "closes": {str(k): v for k, v in self.closes.items()},
            "cpu_s": time.process_time(),
        }

    def reset(self) -> None:
        self.ks = array.array("q")
        self.sent = array.array("q")
        self.recv = array.array("q")

    def arrivals(self, k: int) -> dict[str, int]:
        """How many sockets got message k, and when the last one did."""
        count, last = 0, 0
        for i in range(len(self.ks) - 1, -1, -1):
            if self.ks[i] == k:
                count += 1
                last = max(last, self.recv[i])
        return {"count": count, "last_ns": last}

    def dump(self, path: str) -> int:
        with open(path, "wb") as f:
            for column in (self.ks, self.sent, self.recv):
                column.tofile(f)
        return len(self.ks)

    def abort_all(self) -> None:
        self.stopping = True
        for client in self.clients:
            client.abort()

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "connect":
            return await self.connect(
                cmd["tokens"], cmd["count"], cmd["concurrency"], cmd["rate"], cmd["limit_s"]
            )
        if name == "quiet":
            return await self.quiet(cmd["seconds"], cmd["limit_s"])
        if name == "stats":
            return self.stats()
        if name == "reset":
            self.reset()
            return {}
        if name == "arrivals":
            return self.arrivals(cmd["k"])
        if name == "dump":
            return {"n": self.dump(cmd["path"])}
        if name == "exit":
            self.abort_all()
            return {}
        raise ValueError(f"unknown command {name!r}")


async def worker_main(port: int, path: str, check_seq: bool) -> None:
    """A client process: commands as JSON lines on stdin, one JSON answer line each."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    harness = Harness(port, path, check_seq)
    beats = asyncio.create_task(harness.heartbeats())
    deadline = time.monotonic() + WORKER_LIFETIME_S
    try:
        while time.monotonic() < deadline:
            try:
                line = await asyncio.wait_for(reader.readline(), deadline - time.monotonic())
            except TimeoutError:
                break
            if not line:
                break  # the parent went away
            cmd = orjson.loads(line)
            try:
                reply = await harness.handle(cmd)
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(orjson.dumps(reply).decode() + "\n")
            sys.stdout.flush()
            if cmd["cmd"] == "exit":
                break
    finally:
        harness.abort_all()
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats


# --- the parent's handle on client processes ---------------------------------------------


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, port: int, path: str, check_seq: bool) -> Worker:
        argv = [sys.executable, "-m", "bench.gateway", "--worker", "--port", str(port)]
        argv += ["--path", path] + ([] if check_seq else ["--no-seq"])
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            limit=1 << 24,
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def call(self, within: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write(orjson.dumps(cmd) + b"\n")
            await self.proc.stdin.drain()
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), within)
            except TimeoutError:
                raise BenchError(f"client process gave no answer to {cmd['cmd']}") from None
        if not line:
            raise BenchError(f"client process {self.pid} exited during {cmd['cmd']}")
        reply: dict[str, Any] = orjson.loads(line)
        if "error" in reply:
            raise BenchError(f"client process: {reply['error']}")
        return reply

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.call(10.0, cmd="exit")
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Clients:
    """The client processes of one phase, used as one."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    @classmethod
    async def start(cls, n: int, port: int, check_seq: bool) -> Clients:
        return cls([await Worker.start(port, "/", check_seq) for _ in range(n)])

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    async def each(self, within: float, **cmd: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(w.call(within, **cmd) for w in self.workers)))

    async def connect(
        self, tokens: Sequence[str], count: int, concurrency: int, rate: float, within: float
    ) -> dict[str, Any]:
        """`count` sockets split across the processes; token i goes to socket i."""
        n = len(self.workers)
        shares = [count // n + (1 if j < count % n else 0) for j in range(n)]
        replies = await asyncio.gather(
            *(
                w.call(
                    within + 30,
                    cmd="connect",
                    tokens=list(tokens[j::n]) or list(tokens),
                    count=shares[j],
                    concurrency=max(1, concurrency // n),
                    rate=rate / n,
                    limit_s=within,
                )
                for j, w in enumerate(self.workers)
            )
        )
        errors: Counter[str] = Counter()
        for r in replies:
            errors.update(r["errors"])
        return {
            "connected": sum(r["connected"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "errors": dict(errors.most_common(5)),
            "elapsed_s": max(r["elapsed_s"] for r in replies),
            "open": sum(r["open"] for r in replies),
        }

    async def stats(self) -> dict[str, Any]:
        replies = await self.each(30, cmd="stats")
        closes: Counter[str] = Counter()
        for r in replies:
            closes.update(r["closes"])
        total = {
            k: sum(r[k] for r in replies)
            for k in (
                "open",
                "sockets",
                "frames",
                "deliveries",
                "gaps",
                "duplicates",
                "reordered",
                "unexpected",
            )
        }
        total["closes"] = dict(closes)
        return total

    async def quiet(self, seconds: float, within: float) -> dict[str, Any]:
        replies = await self.each(within + 30, cmd="quiet", seconds=seconds, limit_s=within)
        return {
            "quiet": all(r["quiet"] for r in replies),
            "frames": sum(r["frames"] for r in replies),
            "waited_s": max(r["waited_s"] for r in replies),
        }

    async def deliveries(self, work: Path) -> tuple[array.array[int], ...]:
        """Every (k, sent_ns, recv_ns) recorded by every process, as three columns."""
        ks, sent, recv = array.array("q"), array.array("q"), array.array("q")
        for j, worker in enumerate(self.workers):
            path = work / f"deliveries-{worker.pid}-{j}.bin"
            n = (await worker.call(120, cmd="dump", path=str(path)))["n"]
            with path.open("rb") as f:
                for column in (ks, sent, recv):
                    column.fromfile(f, n)
            path.unlink()
        return ks, sent, recv

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)


# --- senders ------------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection for the REST sender."""

    _LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        match = self._LENGTH.search(head)
        body = await self.reader.readexactly(int(match.group(1))) if match else b""
        return int(head[9:12]), body

    def close(self) -> None:
        self.writer.close()


class RestPublisher:
    """Posts each message as the sender, over a small pool of keep-alive connections."""

    def __init__(self, port: int, channel_id: int, token: str, pool: list[HttpConnection]):
        self.port = port
        self.path = f"/api/channels/{channel_id}/messages"
        self.token = token
        self.pool: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for connection in pool:
            self.pool.put_nowait(connection)
        self.connections = pool
        self.template: dict[str, Any] | None = None
        self.answered_ns: dict[int, int] = {}  # k: time from writing the POST to its answer

    @classmethod
    async def open(cls, port: int, channel_id: int, token: str, size: int) -> RestPublisher:
        pool = [await HttpConnection.open(port) for _ in range(size)]
        return cls(port, channel_id, token, pool)

    async def publish(self, k: int) -> tuple[int, int]:
        connection = await self.pool.get()
        try:
            sent = time.time_ns()
            body = orjson.dumps({"content": f"gw {k} {sent}"})
            raw = loadgen.build_request(
                "POST", self.path, port=self.port, token=self.token, body=body
            )
            status, answer = await connection.request(raw)
            self.answered_ns[k] = time.time_ns() - sent
        finally:
            self.pool.put_nowait(connection)
        if status == 201 and self.template is None:
            self.template = orjson.loads(answer)["data"]
        return sent, status

    async def close(self) -> None:
        for connection in self.connections:
            connection.close()


# A MESSAGE_CREATE's data as Gossip sends it, in case the baseline runs without Gossip.
DEFAULT_TEMPLATE: dict[str, Any] = {
    "id": "1574358261102559232",
    "channelId": "1574358259185762304",
    "author": {"id": "1574358259059933184", "username": "gw000000u0", "avatar": None, "bot": False},
    "content": "",
    "timestamp": "2026-01-01T00:00:00.000Z",
    "editedTimestamp": None,
    "mentions": [],
    "mentionRoles": [],
    "mentionEveryone": False,
    "attachments": [],
    "embeds": [],
    "reactions": [],
    "pinned": False,
    "type": 0,
    "tts": False,
}


class WsPublisher:
    """The baseline's sender: one socket whose frames the baseline server broadcasts."""

    def __init__(self, client: GatewayClient, template: dict[str, Any]) -> None:
        self.client = client
        self.template = dict(template)

    async def publish(self, k: int) -> tuple[int, int]:
        sent = time.time_ns()
        data = self.template | {"id": str(10**18 + k), "content": f"gw {k} {sent}"}
        frame = b'{"type":"MESSAGE_CREATE","seq":0,"data":' + orjson.dumps(data) + b"}"
        client = self.client
        if client.closed:
            return sent, 0
        client.send_text(frame)
        return sent, 201

    async def close(self) -> None:
        self.client.abort()


async def open_ws_publisher(port: int, template: dict[str, Any]) -> WsPublisher:
    harness = Harness(port, "/", check_seq=False)
    client = GatewayClient(harness, PUBLISHER_TOKEN)
    await asyncio.get_running_loop().create_connection(lambda: client, HOST, port)
    error = await asyncio.wait_for(client.ready, 10)
    if error:
        raise BenchError(f"baseline publisher: {error}")
    return WsPublisher(client, template)


@dataclass
class SendLog:
    sent_ns: dict[int, int] = field(default_factory=dict)
    status: Counter[int] = field(default_factory=Counter)
    ok: set[int] = field(default_factory=set)
    window_start_ns: int = 0
    window_end_ns: int = 0
    late: int = 0
    skipped: int = 0
    cpu_s: float = 0.0

    def measured_ok(self) -> set[int]:
        start, end = self.window_start_ns, self.window_end_ns
        return {k for k in self.ok if start <= self.sent_ns[k] < end}

    @property
    def window_s(self) -> float:
        return (self.window_end_ns - self.window_start_ns) / 1e9


async def run_sender(
    publish: Callable[[int], Awaitable[tuple[int, int]]],
    rate: float,
    warmup: float,
    duration: float,
    on_window: Callable[[str], None],
    max_in_flight: int = 64,
) -> SendLog:
    """Open loop: message k goes at start + k/rate, whatever happened to the others."""
    result = SendLog()
    total = int(rate * (warmup + duration))
    in_flight: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    window_at = started + warmup
    window_end_at = window_at + duration
    cpu0 = time.process_time()

    async def one(k: int) -> None:
        try:
            sent, status = await publish(k)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            result.status[0] += 1
            return
        result.sent_ns[k] = sent
        result.status[status] += 1
        if status == 201:
            result.ok.add(k)

    def open_window() -> None:
        if not result.window_start_ns:
            on_window("start")
            result.window_start_ns = time.time_ns()

    for k in range(total):
        delay = started + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            result.late += 1
        if time.monotonic() >= window_at:
            open_window()
        if time.monotonic() >= window_end_at:
            break
        if len(in_flight) >= max_in_flight:
            result.skipped += 1  # the server is this far behind: don't pile on
            continue
        task = asyncio.create_task(one(k))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    open_window()
    await asyncio.sleep(max(0.0, window_end_at - time.monotonic()))
    result.window_end_ns = time.time_ns()
    on_window("end")
    result.cpu_s = time.process_time() - cpu0
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    return result


# --- measuring --------------------------------------------------------------------------


def percentile(values: Sequence[int], q: float) -> float:
    """Nearest rank over sorted `values`; NaN for none."""
    if not values:
        return float("nan")
    rank = max(1, min(len(values), math.ceil(q / 100 * len(values))))
    return float(values[rank - 1])


def ms(ns: float) -> float | None:
    return None if math.isnan(ns) else round(ns / 1e6, 2)


@dataclass
class Delivery:
    figures: dict[str, Any]
    template: dict[str, Any] | None = None


async def drain(clients: Clients, expected_total: int, within: float) -> dict[str, Any]:
    """Waits until every message arrived everywhere, or arrivals stopped for 2 s."""
    started = time.monotonic()
    last, last_change = -1, started
    stats = await clients.stats()
    while time.monotonic() - started < within:
        stats = await clients.stats()
        if stats["deliveries"] >= expected_total:
            break
        if stats["deliveries"] != last:
            last, last_change = stats["deliveries"], time.monotonic()
        elif time.monotonic() - last_change > 2.0:
            break
        await asyncio.sleep(0.25)
    stats["drain_s"] = round(time.monotonic() - started, 2)
    return stats


async def delivery_run(
    args: argparse.Namespace,
    work: Path,
    server: Server,
    tokens: Sequence[str],
    make_publisher: Callable[[], Awaitable[RestPublisher | WsPublisher]],
    check_seq: bool,
    profile_to: Path | None = None,
) -> Delivery:
    """Connects the clients, runs the sender, and measures what arrived.

    With `profile_to` (a directory), py-spy samples the server for the first 30 s of the
    connect phase (connect.txt) and during the measured window (send.txt).
    """
    figures: dict[str, Any] = {}
    clients = await Clients.start(args.client_procs, server.port, check_seq)
    publisher: RestPublisher | WsPublisher | None = None
    recorders: list[tuple[subprocess.Popen[bytes], Path]] = []

    def sample(name: str, seconds: float) -> None:
        if profile_to is not None:
            path = profile_to / f"{name}.txt"
            recorders.append((profile.record(server.pid, seconds, path), path))

    try:
        sample("connect", 30)
        log(f"connecting {args.clients} sockets from {args.client_procs} process(es)")
        connected = await clients.connect(
            tokens, args.clients, args.connect_concurrency, args.connect_rate, 180.0
        )
        log(f"connect: {connected}")
        figures["connect_s"] = connected["elapsed_s"]
        figures["connect_failed"] = connected["failed"]
        if connected["errors"]:
            figures["connect_errors"] = connected["errors"]
        settle = await clients.quiet(2.0, args.settle_timeout)
        figures["connect_frames"] = (await clients.stats())["frames"]
        figures["settle_s"] = settle["waited_s"]
        if not settle["quiet"]:
            log("the connect-time traffic did not settle; measuring anyway")
        before = await clients.stats()
        ready = before["open"]
        figures["clients_ready"] = ready
        if ready == 0:
            raise BenchError("no client is connected")
        await clients.each(30, cmd="reset")
        rss_idle = rss_kb(server.pid)

        publisher = await make_publisher()
        cpu: dict[str, float] = {}

        def on_window(edge: str) -> None:
            cpu[f"server_{edge}"] = cpu_seconds(server.pid)
            cpu[f"clients_{edge}"] = clients.cpu()
            if edge == "start":
                sample("send", args.duration)

        log(f"sending {args.rate}/s for {args.warmup}+{args.duration}s to {ready} sockets")
        sends = await run_sender(
            publisher.publish, args.rate, args.warmup, args.duration, on_window
        )
        window = sends.window_s
        after = await drain(clients, len(sends.ok) * ready, args.drain)
        figures["rss_active_mb"] = round(rss_kb(server.pid) / 1024, 1)
        figures["rss_connected_mb"] = round(rss_idle / 1024, 1)
        ks, sent, recv = await clients.deliveries(work)
    finally:
        if publisher is not None:
            await publisher.close()
        await clients.stop()
        for recorder, path in recorders:
            try:
                await asyncio.to_thread(recorder.wait, 60)
                log(profile.summarize(path))
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
                log(f"py-spy did not finish {path}")

    measured = sends.measured_ok()
    expected = len(measured) * ready
    start, end = sends.window_start_ns, sends.window_end_ns
    latencies: list[int] = []
    last_arrival: dict[int, int] = {}
    in_window = 0
    for k, s, r in zip(ks, sent, recv, strict=True):
        if start <= r < end:
            in_window += 1
        if k in measured:
            latencies.append(r - s)
            if r > last_arrival.get(k, 0):
                last_arrival[k] = r
    latencies.sort()
    spans = sorted(last_arrival[k] - sends.sent_ns[k] for k in last_arrival)
    closes = Counter(after["closes"])
    closes.subtract(before["closes"])
    figures.update(
        deliveries_per_s=round(in_window / window, 1) if window else None,
        latency_p50_ms=ms(percentile(latencies, 50)),
        latency_p99_ms=ms(percentile(latencies, 99)),
        latency_max_ms=ms(percentile(latencies, 100)),
        delivered=len(latencies),
        expected=expected,
        delivered_ratio=round(len(latencies) / expected, 5) if expected else None,
        fanout_span_p50_ms=ms(percentile(spans, 50)),
        fanout_span_p99_ms=ms(percentile(spans, 99)),
        messages_measured=len(measured),
        send_rate=round(len(measured) / window, 1) if window else None,
        send_errors=sum(n for status, n in sends.status.items() if status != 201),
        send_late=sends.late,
        send_skipped=sends.skipped,
        server_cpu=round((cpu["server_end"] - cpu["server_start"]) / window, 2),
        clients_cpu=round((cpu["clients_end"] - cpu["clients_start"]) / window, 2),
        sender_cpu=round(sends.cpu_s / window, 2),
        window_s=round(window, 2),
        drain_s=after["drain_s"],
        seq_gaps=after["gaps"] - before["gaps"],
        duplicates=after["duplicates"] - before["duplicates"],
        reordered=after["reordered"] - before["reordered"],
        closed_during_run={k: v for k, v in closes.items() if v},
        clients_open_after=after["open"],
    )
    template = None
    if isinstance(publisher, RestPublisher):
        template = publisher.template
        posts = sorted(publisher.answered_ns[k] for k in measured if k in publisher.answered_ns)
        figures["post_p50_ms"] = ms(percentile(posts, 50))
        figures["post_p99_ms"] = ms(percentile(posts, 99))
    return Delivery(figures, template)


async def gossip_delivery(args: argparse.Namespace, work: Path) -> Delivery:
    server = start_gossip(work, "gossip-delivery")
    try:
        await server.wait_ready()
        log(f"registering {args.clients} members and a sender")
        setup = await set_up(server.port, args.clients)
        log(f"setup took {setup.setup_s:.1f}s; server {setup.server_id}, #{setup.channel_id}")

        async def publisher() -> RestPublisher:
            return await RestPublisher.open(
                server.port, setup.channel_id, setup.sender_token, args.sender_connections
            )

        result = await delivery_run(
            args, work, server, setup.member_tokens, publisher, True, args.profile
        )
        result.figures["setup_s"] = round(setup.setup_s, 1)
        if not server.alive():
            raise BenchError(f"gossip exited during the run: {server.tail()}")
        return result
    finally:
        server.stop()


async def baseline_delivery(
    args: argparse.Namespace, work: Path, template: dict[str, Any]
) -> Delivery:
    server = start_baseline(work, "baseline-delivery")
    try:
        await server.wait_ready()

        async def publisher() -> WsPublisher:
            return await open_ws_publisher(server.port, template)

        return await delivery_run(args, work, server, ["bench"], publisher, check_seq=False)
    finally:
        server.stop()


async def settled_rss(pid: int, within: float = 30.0) -> int:
    """VmRSS once it stops moving: within 0.5% over the last 3 s (or after `within` s)."""
    readings: list[int] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        readings.append(rss_kb(pid))
        recent = readings[-7:]
        if len(recent) == 7 and max(recent) - min(recent) <= 0.005 * max(recent):
            break
        await asyncio.sleep(0.5)
    return readings[-1]


async def one_message_everywhere(
    api_port: int, setup: Setup, clients: Clients, k: int, within: float
) -> tuple[bool, float]:
    """Posts one message; (did every open socket get it, ms until the last did)."""
    before = await clients.stats()
    connection = await HttpConnection.open(api_port)
    try:
        sent = time.time_ns()
        body = orjson.dumps({"content": f"gw {k} {sent}"})
        raw = loadgen.build_request(
            "POST",
            f"/api/channels/{setup.channel_id}/messages",
            port=api_port,
            token=setup.sender_token,
            body=body,
        )
        status, _ = await connection.request(raw)
    finally:
        connection.close()
    if status != 201:
        raise BenchError(f"posting a message answered {status}")
    target = before["open"]
    deadline = time.monotonic() + within
    got = {"count": 0, "last_ns": sent}
    while time.monotonic() < deadline:
        replies = await clients.each(30, cmd="arrivals", k=k)
        got = {
            "count": sum(r["count"] for r in replies),
            "last_ns": max([sent] + [r["last_ns"] for r in replies]),
        }
        if got["count"] >= target:
            break
        await asyncio.sleep(0.2)
    return got["count"] >= target, (got["last_ns"] - sent) / 1e6


async def rss_phase(args: argparse.Namespace, work: Path, figures: dict[str, Any]) -> None:
    """RSS per idle authenticated socket on a fresh server; then the optional ramp."""
    server = start_gossip(work, "gossip-rss")
    clients: Clients | None = None
    try:
        await server.wait_ready()
        setup = await set_up(server.port, 0)
        clients = await Clients.start(args.client_procs, server.port, check_seq=True)
        tokens = [setup.sender_token]
        # The first socket loads what sockets need once (modules, caches, the snapshot).
        warm = await clients.workers[0].call(
            60, cmd="connect", tokens=tokens, count=1, concurrency=1, rate=0, limit_s=30
        )
        if warm["connected"] != 1:
            raise BenchError(f"the warm-up socket failed: {warm}")
        await asyncio.sleep(1.0)
        before = await settled_rss(server.pid, 10)
        log(f"RSS with 1 socket: {before / 1024:.1f} MiB; adding {args.rss_clients}")
        connected = await clients.connect(
            tokens, args.rss_clients, args.connect_concurrency, 0, 180
        )
        await clients.quiet(1.0, 30)
        after = await settled_rss(server.pid)
        n = connected["connected"]
        figures.update(
            rss_kb_per_idle_conn=round((after - before) / n, 1) if n else None,
            rss_before_mb=round(before / 1024, 1),
            rss_after_mb=round(after / 1024, 1),
            rss_clients=n,
            rss_connect_s=connected["elapsed_s"],
            rss_users="one user, one login, a session per socket",
        )
        if connected["failed"]:
            figures["rss_connect_errors"] = connected["errors"]
        held = (await clients.stats())["open"]
        figures["max_clients_held"] = max(figures.get("max_clients_held", 0), held)
        log(f"RSS {after / 1024:.1f} MiB with {held} sockets")
        if args.ramp_max > held:
            await ramp(args, server, setup, clients, held, figures)
    finally:
        if clients is not None:
            await clients.stop()
        server.stop()


async def ramp(
    args: argparse.Namespace,
    server: Server,
    setup: Setup,
    clients: Clients,
    held: int,
    figures: dict[str, Any],
) -> None:
    """Adds sockets by steps; each step must connect ≥99% and deliver one message to all."""
    steps: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.ramp_timeout
    k = 0  # ramp messages are numbered 1, 2, ... (the clients' duplicate bitmaps stay small)
    while held < args.ramp_max and time.monotonic() < deadline:
        step = min(args.ramp_step, args.ramp_max - held)
        connected = await clients.connect(
            [setup.sender_token], step, args.connect_concurrency, 0, 300
        )
        await clients.quiet(1.0, 30)
        stats = await clients.stats()
        k += 1
        everywhere, fanout_ms = await one_message_everywhere(server.port, setup, clients, k, 60)
        row = {
            "sockets": stats["open"],
            "failed": connected["failed"],
            "connect_s": connected["elapsed_s"],
            "rss_mb": round(rss_kb(server.pid) / 1024, 1),
            "one_message_to_all_ms": round(fanout_ms, 1),
            "all_got_it": everywhere,
        }
        if connected["errors"]:
            row["errors"] = connected["errors"]
        steps.append(row)
        log(f"ramp: {row}")
        if connected["failed"] > 0.01 * step or not everywhere or not server.alive():
            break
        held = stats["open"]
        figures["max_clients_held"] = max(figures.get("max_clients_held", 0), held)
    figures["ramp"] = steps


async def baseline_rss(args: argparse.Namespace, work: Path, figures: dict[str, Any]) -> None:
    server = start_baseline(work, "baseline-rss")
    clients: Clients | None = None
    try:
        await server.wait_ready()
        clients = await Clients.start(args.client_procs, server.port, check_seq=False)
        await clients.workers[0].call(
            60, cmd="connect", tokens=["bench"], count=1, concurrency=1, rate=0, limit_s=30
        )
        await asyncio.sleep(1.0)
        before = await settled_rss(server.pid, 10)
        connected = await clients.connect(
            ["bench"], args.rss_clients, args.connect_concurrency, 0, 180
        )
        after = await settled_rss(server.pid)
        n = connected["connected"]
        figures["baseline_rss_kb_per_idle_conn"] = round((after - before) / n, 1) if n else None
    finally:
        if clients is not None:
            await clients.stop()
        server.stop()


# --- the run ----------------------------------------------------------------------------


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    figures: dict[str, Any] = {"bench": "gateway"}
    template = DEFAULT_TEMPLATE

    if not args.skip_delivery:
        gossip = await gossip_delivery(args, work)
        log(f"gossip: {gossip.figures}")
        figures.update(gossip.figures)
        figures["max_clients_held"] = gossip.figures["clients_ready"]
        template = gossip.template or template

        base = await baseline_delivery(args, work, template)
        log(f"baseline: {base.figures}")
        for key in (
            "deliveries_per_s",
            "latency_p50_ms",
            "latency_p99_ms",
            "latency_max_ms",
            "delivered_ratio",
            "fanout_span_p99_ms",
            "send_rate",
            "server_cpu",
            "clients_cpu",
            "connect_s",
            "clients_ready",
        ):
            figures[f"baseline_{key}"] = base.figures[key]
        gd, bd = figures["deliveries_per_s"], figures["baseline_deliveries_per_s"]
        figures["deliveries_vs_baseline"] = round(gd / bd, 3) if gd and bd else None

    if args.rss_clients:
        await rss_phase(args, work, figures)
        if not args.skip_baseline_rss:
            await baseline_rss(args, work, figures)

    figures.update(
        clients=args.clients,
        rate=args.rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        client_procs=args.client_procs,
        python=platform.python_version(),
        database="sqlite",
        gossip_env=dict(EXTRA_ENV),
        cpus=os.cpu_count(),
        # Sockets per process are capped by this (the server's and each client process's).
        fd_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        loadavg_1m_before=round(load_before, 2),
        loadavg_1m_after=round(os.getloadavg()[0], 2),
    )
    checks = {
        "deliveries_vs_baseline>=0.5": ("deliveries_vs_baseline", lambda v: v >= 0.5),
        "latency_p99_ms<=100": ("latency_p99_ms", lambda v: v <= 100),
        "delivered_ratio==1": ("delivered_ratio", lambda v: v == 1),
        "rss_kb_per_idle_conn<=40": ("rss_kb_per_idle_conn", lambda v: v <= 40),
    }
    # Only what this run measured; a figure that could not be computed counts as missed.
    targets = {
        name: figures[key] is not None and bool(test(figures[key]))
        for name, (key, test) in checks.items()
        if key in figures
    }
    figures["targets_met"] = targets
    first = [
        "bench",
        "deliveries_per_s",
        "latency_p50_ms",
        "latency_p99_ms",
        "delivered",
        "expected",
        "delivered_ratio",
        "baseline_deliveries_per_s",
        "baseline_latency_p50_ms",
        "baseline_latency_p99_ms",
        "deliveries_vs_baseline",
        "rss_kb_per_idle_conn",
        "max_clients_held",
        "clients",
        "rate",
        "duration_s",
    ]
    ordered = {k: figures[k] for k in first if k in figures}
    return ordered | {k: v for k, v in figures.items() if k not in ordered}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway", description="Gossip gateway fan-out benchmark"
    )
    parser.add_argument("--clients", type=int, default=1000, help="gateway sockets (users)")
    parser.add_argument(
        "--gossip-env",
        action="append",
        default=[],
        metavar="GOSSIP_X=VALUE",
        help="a setting for the Gossip servers (repeatable), e.g. GOSSIP_GATEWAY_FANOUT_PACE_MS=0",
    )
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds sent, not measured")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--drain", type=float, default=30.0, help="max seconds to await stragglers")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="handshakes at once")
    parser.add_argument(
        "--connect-rate", type=float, default=0.0, help="new sockets per second (0: no pacing)"
    )
    parser.add_argument(
        "--settle-timeout", type=float, default=180.0, help="max wait for the presence burst"
    )
    parser.add_argument("--sender-connections", type=int, default=8, help="REST sender pool")
    parser.add_argument("--rss-clients", type=int, default=5000, help="idle sockets (0: skip)")
    parser.add_argument("--skip-delivery", action="store_true", help="only the RSS phase")
    parser.add_argument("--skip-baseline-rss", action="store_true")
    parser.add_argument("--ramp-max", type=int, default=0, help="add sockets up to this many")
    parser.add_argument("--ramp-step", type=int, default=2000)
    parser.add_argument("--ramp-timeout", type=float, default=600.0, help="seconds for the ramp")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample gossip with py-spy while connecting and sending (see bench/profile.py)",
    )
    # Internal: a client process.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/", help=argparse.SUPPRESS)
    parser.add_argument("--no-seq", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile is not None:
        if profile.py_spy() is None:
            parser.error("--profile needs py-spy: .venv/bin/pip install py-spy")
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.clients < 1 or args.rate <= 0 or args.duration <= 0 or args.client_procs < 1:
        parser.error("--clients, --rate, --duration and --client-procs must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        loop = loadgen.new_event_loop()
        try:
            loop.run_until_complete(worker_main(args.port, args.path, not args.no_seq))
        finally:
            loop.close()
        return 0
    for item in args.gossip_env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("GOSSIP_"):
            raise SystemExit(f"--gossip-env wants GOSSIP_NAME=VALUE, got {item!r}")
        EXTRA_ENV[name] = value
    work = Path(tempfile.mkdtemp(prefix="gossip-gateway-bench-"))
    loop = loadgen.new_event_loop()
    try:
        figures = loop.run_until_complete(run(args, work))
    except BenchError as error:
        log(f"failed: {error}")
        log(f"logs in {work}")
        return 1
    finally:
        loop.close()
    if args.keep:
        log(f"data and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
