"""The gateway's direct write path (src/gossip/gateway/wire.py) through real sockets.

Frames are read by hand, byte by byte, so a wrong header (length form, FIN, opcode, a mask
a server must not set) fails here even where a lenient client would cope; and through the
websockets client, the way real clients read them. The adapter's reliance on uvicorn's
internals is pinned: if an upgrade moves them, `test_the_gateway_writes_directly` fails.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.sync.client import connect

from gossip.bus import MemoryBus
from gossip.cli import websocket_options
from gossip.config import Settings
from gossip.events import Audience, Event
from gossip.gateway import hub as hub_module
from gossip.gateway.hub import Hub
from gossip.gateway.protocol import Limits
from gossip.gateway.wire import Dispatch, RawSocket, raw_socket, text_frame_header
from tests.gateway.client import connect_as
from tests.live import Live, live_server

# Around each boundary of the three length forms: 7 bits, 16 bits, 64 bits.
SIZES = [0, 1, 125, 126, 127, 1000, 65535, 65536, 65537, 300_000]


# --- a raw client: the handshake and RFC 6455 framing by hand -----------------------------


class RawClient:
    def __init__(self, port: int, path: str = "/", extensions: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if extensions:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.response = head.decode()
        assert self.response.startswith("HTTP/1.1 101"), self.response

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("closed")
        self.buffer += data

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame, checking what a server must send."""
        first, second = self._take(2)
        assert first & 0x80, "FIN must be set: the gateway never fragments"
        assert not first & 0x70, "no RSV bits without extensions"
        assert not second & 0x80, "a server's frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._take(2), "big")
            assert 126 <= length < 65536, "the 16-bit form only for 126..65535"
        elif length == 127:
            length = int.from_bytes(self._take(8), "big")
            assert length >= 65536, "the 64-bit form only from 65536"
        return first & 0x0F, self._take(length)

    def text(self) -> str:
        opcode, payload = self.frame()
        assert opcode == 1, f"expected a text frame, got opcode {opcode}"
        return payload.decode()

    def send_text(self, text: str) -> None:
        """A client's frames are masked (RFC 6455 §5.3)."""
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        n = len(payload)
        header = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# --- a bare ASGI app under uvicorn with `gossip serve`'s WebSocket options ---------------


App = Callable[[Any, Any, Any], Any]


@contextlib.contextmanager
def uvicorn_serving(app: App, **overrides: Any) -> Iterator[int]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = {**websocket_options(Settings(secret_key="x" * 32)), **overrides}
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", **options)  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def payload_of(size: int, seq: int) -> Dispatch:
    """A dispatch whose whole frame payload is exactly `size` bytes (≥ its fixed part),
    with multi-byte UTF-8 in it so characters and bytes differ."""
    fixed = len(Dispatch("T", '""').text(seq).encode())
    room = max(0, size - fixed)
    # 'é' is two bytes in UTF-8: fill with pairs, then one ASCII byte if odd.
    body = "é" * (room // 2) + "x" * (room % 2)
    dispatch = Dispatch("T", json.dumps(body, ensure_ascii=False))
    return dispatch


class Recorder:
    """An ASGI WebSocket app: accept, then run `script(wire, send)`, then close 4013."""

    def __init__(self, script: Callable[[RawSocket | None, Any], Any]) -> None:
        self.script = script
        self.wires: list[RawSocket | None] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        wire = raw_socket(send)
        self.wires.append(wire)
        await self.script(wire, send)
        await send({"type": "websocket.close", "code": 4013, "reason": "done"})


async def put(wire: RawSocket, data: bytes) -> None:
    """Writes, waiting while the socket's buffer is full (the direct path refuses then)."""
    deadline = time.monotonic() + 10
    while not wire.write(data):
        assert time.monotonic() < deadline, "the socket never drained"
        await asyncio.sleep(0.005)


def test_header_forms() -> None:
    assert text_frame_header(125) == b"\x81\x7d"
    assert text_frame_header(126) == b"\x81\x7e\x00\x7e"
    assert text_frame_header(65535) == b"\x81\x7e\xff\xff"
    assert text_frame_header(65536) == b"\x81\x7f" + (65536).to_bytes(8, "big")


def test_frames_are_byte_correct_in_every_length_form() -> None:
    seqs = [1, 9, 10, 99, 100, 12345, 2**31 + 7]
    singles = [(seq, payload_of(size, seq)) for size in SIZES for seq in seqs]
    # Several frames in one write, as a backlog is sent; then one through ASGI and one more
    # direct: the order on the wire is the order of the calls.
    batch = [(seq, payload_of(70_000 if seq % 2 else 200, seq)) for seq in range(1, 6)]
    last = Dispatch("AFTER", "{}")
    expected = [d.text(s) for s, d in singles + batch]
    expected += ["via asgi", '{"type":"AFTER","seq":7,"data":{}}']

    async def script(wire: RawSocket | None, send: Any) -> None:
        assert wire is not None
        for seq, dispatch in singles:
            await put(wire, dispatch.frame(seq))
        await put(wire, b"".join(d.frame(s) for s, d in batch))
        await send({"type": "websocket.send", "text": "via asgi"})
        await put(wire, last.frame(7))

    with uvicorn_serving(Recorder(script)) as port:
        client = RawClient(port)
        got = [client.text() for _ in expected]
        opcode, payload = client.frame()
        client.close()
    assert got == expected
    for text in got[:-2]:
        json.loads(text)  # each one whole, valid JSON
    assert opcode == 8 and int.from_bytes(payload[:2], "big") == 4013  # the close, last
    # The seq really is the one asked for, in the right place.
    one = json.loads(got[len(seqs) * SIZES.index(65536) + 3])
    assert one["seq"] == 99 and len(one["data"]) > 30_000


def test_the_websockets_client_reads_them_too() -> None:
    async def script(wire: RawSocket | None, send: Any) -> None:
        assert wire is not None
        for seq, size in enumerate(SIZES, start=1):
            await put(wire, payload_of(size, seq).frame(seq))

    with (
        uvicorn_serving(Recorder(script)) as port,
        connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=2**20) as ws,
    ):
        for seq, size in enumerate(SIZES, start=1):
            text = ws.recv(timeout=10)
            assert isinstance(text, str)
            assert text == payload_of(size, seq).text(seq)
            assert len(text.encode()) == max(size, len(payload_of(0, seq).text(seq).encode()))


def test_no_direct_writes_when_compression_is_negotiated() -> None:
    async def script(wire: RawSocket | None, send: Any) -> None:
        assert wire is None
        await send({"type": "websocket.send", "text": "compressed"})

    app = Recorder(script)
    with (
        uvicorn_serving(app, ws_per_message_deflate=True) as port,
        connect(f"ws://127.0.0.1:{port}/", max_size=2**20) as ws,
    ):
        assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
        assert ws.recv(timeout=10) == "compressed"
    assert app.wires == [None]


def test_no_direct_writes_elsewhere() -> None:
    async def plain_send(message: Any) -> None:
        return None

    assert raw_socket(plain_send) is None

    async def script(wire: RawSocket | None, send: Any) -> None:
        await send({"type": "websocket.send", "text": "wsproto"})

    app = Recorder(script)
    with (
        uvicorn_serving(app, ws="wsproto") as port,
        connect(f"ws://127.0.0.1:{port}/", compression=None) as ws,
    ):
        assert ws.recv(timeout=10) == "wsproto"
    assert app.wires == [None]


def test_no_direct_write_once_closing() -> None:
    """After the app's close the direct path refuses, as uvicorn's send would."""
    results: list[bool] = []

    async def script(wire: RawSocket | None, send: Any) -> None:
        assert wire is not None
        results.append(wire.write(Dispatch("A", "1").frame(1)))
        await send({"type": "websocket.close", "code": 4000, "reason": ""})
        results.append(wire.write(Dispatch("B", "2").frame(2)))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await script(raw_socket(send), send)

    with uvicorn_serving(app) as port:
        client = RawClient(port)
        assert json.loads(client.text()) == {"type": "A", "seq": 1, "data": 1}
        opcode, payload = client.frame()
        client.close()
    assert opcode == 8 and int.from_bytes(payload[:2], "big") == 4000
    assert results == [True, False]


# --- the gateway itself ------------------------------------------------------------------


@pytest.fixture
def gateway(backend: str, tmp_path: Path) -> Iterator[tuple[Live, Any]]:
    apps: list[Any] = []
    with live_server(backend, tmp_path, prepare=apps.append) as server:
        yield server, apps[0]


def test_the_gateway_writes_directly(gateway: tuple[Live, Any]) -> None:
    """Pins the adapter: under `gossip serve`'s options every gateway socket gets a direct
    writer. If a uvicorn upgrade changes what wire.py relies on, this fails (and the
    gateway would still work, through ASGI, only slower)."""
    live, app = gateway
    alice = live.register()
    client = connect_as(live, alice)
    try:
        (session,) = [s for s in app.state.hub.sessions.values() if s.connection is not None]
        assert isinstance(session.connection._wire, RawSocket)
    finally:
        client.close()


def test_gateway_frames_through_a_raw_reader(gateway: tuple[Live, Any]) -> None:
    """Dispatches of every size a message can make, read by hand: headers right, `seq`
    contiguous, order kept, payload the REST answer."""
    live, _ = gateway
    alice, bob = live.register(), live.register()
    server_id = live.create_server(alice)
    live.join(bob, server_id, alice)
    channels = live.data(live.get(f"/api/servers/{server_id}/channels", alice))
    channel_id = next(c["id"] for c in channels if c["type"] == 0)
    reader = RawGatewayReader(live, bob.token)
    try:
        embed = {"title": "ü" * 200, "description": "€" * 3500}
        sent = []
        for body in [
            {"content": "hi"},
            {"content": "é" * 2000},
            {"content": "big", "embeds": [embed]},
            {"content": "last"},
        ]:
            answer = live.post(f"/api/channels/{channel_id}/messages", alice, json=body)
            sent.append(live.data(answer, 201))
        got = [reader.next_dispatch() for _ in sent]
    finally:
        reader.close()
    assert [g["data"] for g in got] == sent
    seqs = [g["seq"] for g in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(sent)))
    assert max(reader.sizes) > 10_000  # the 16-bit length form, multi-byte characters


class RawGatewayReader(RawClient):
    """RawClient speaking the gateway: authenticates (in a frame of any size), collects
    dispatches in order, skipping presence."""

    def __init__(self, live: Live, token: str) -> None:
        super().__init__(int(live.url.rsplit(":", 1)[1]))
        self.sizes: list[int] = []
        assert json.loads(self.text())["type"] == "HELLO"
        self.send_text(json.dumps({"type": "AUTHENTICATE", "token": token}))
        ready = json.loads(self.text())
        assert ready["type"] == "READY"
        self.seq = ready["seq"]

    def next_dispatch(self) -> dict[str, Any]:
        while True:
            text = self.text()
            self.sizes.append(len(text.encode()))
            frame: dict[str, Any] = json.loads(text)
            assert frame["seq"] == self.seq + 1, "a gap or a repeat in the numbered stream"
            self.seq = frame["seq"]
            if frame["type"] == "MESSAGE_CREATE":
                return frame


class CountingWire:
    """Wraps a connection's direct writer to count its writes (and the frames in them)."""

    def __init__(self, wire: RawSocket) -> None:
        self.wire = wire
        self.writes: list[int] = []  # bytes per write

    def write(self, data: bytes) -> bool:
        written = self.wire.write(data)
        if written:
            self.writes.append(len(data))
        return written


def publish_in_one_turn(app: Any, events: list[Event]) -> None:
    """Hands several committed events to the bus at once, on the server's loop, as a burst
    of sends does when the fan-out falls behind."""
    loop = app.state.hub._sweeper.get_loop()

    async def publish() -> None:
        app.state.runtime.bus.publish(events)
        await app.state.runtime.bus.drain()

    asyncio.run_coroutine_threadsafe(publish(), loop).result(timeout=10)


@pytest.mark.parametrize("chunk", [None, 1])
@pytest.mark.parametrize("count", [5, 100])
def test_a_run_of_events_is_one_write_per_socket(
    backend: str, tmp_path: Path, count: int, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events the bus has in hand at once reach each socket in one write (a few, with a
    long run: held back at most half the backlog limit, so no one looks slow), in order,
    numbered without gaps; also when the flush goes one socket per turn of the loop."""
    if chunk is not None:
        monkeypatch.setattr(hub_module, "FLUSH_CHUNK", chunk)
    apps: list[Any] = []
    with live_server(backend, tmp_path, prepare=apps.append, gateway_max_pending=20) as live:
        app = apps[0]
        assert isinstance(app.state.runtime.bus, MemoryBus)
        users = [live.register() for _ in range(3)]
        readers = [RawGatewayReader(live, user.token) for user in users]
        try:
            wires = {}
            for session in list(app.state.hub.sessions.values()):
                connection = session.connection
                wires[session.user_id] = connection._wire = CountingWire(connection._wire)
            events = [
                Event(
                    "MESSAGE_CREATE",
                    {"id": str(i), "content": f"burst {i}" + "é" * (i % 7) * 40},
                    Audience(user_ids=tuple(int(u.id) for u in users)),
                )
                for i in range(count)
            ]
            publish_in_one_turn(app, events)
            for reader in readers:
                got = [reader.next_dispatch()["data"] for _ in events]
                assert got == [e.data for e in events]
            for wire in wires.values():
                assert len(wire.writes) == -(-count // 10)  # 20 // 2 dispatches per write
        finally:
            for reader in readers:
                reader.close()


def test_pacing_rule() -> None:
    """Held for a multiple of what the last fan-out's writes took, within the limit; small
    fan-outs hold nothing back."""
    hub = Hub(None, MemoryBus(), None, Limits(fanout_pace_s=0.025))  # type: ignore[arg-type]
    before = time.monotonic()
    hub._pace(hub_module.PACE_FROM_S / 2)
    assert hub._paced_until == 0.0
    hub._pace(0.01)
    window = hub_module.PACE_FACTOR * 0.01
    assert 0 < window < 0.025
    assert before + window <= hub._paced_until <= time.monotonic() + window
    hub._pace(5.0)
    assert hub._paced_until <= time.monotonic() + 0.025
    off = Hub(None, MemoryBus(), None, Limits(fanout_pace_s=0))  # type: ignore[arg-type]
    off._pace(5.0)
    assert off._paced_until == 0.0


def test_events_during_a_paced_window_share_one_write(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fan-out, the events that come (one at a time) within its pacing window are
    held and written together when it ends: in order, numbered without gaps."""
    apps: list[Any] = []
    with live_server(backend, tmp_path, prepare=apps.append) as live:
        app = apps[0]
        hub = app.state.hub
        users = [live.register() for _ in range(2)]
        readers = [RawGatewayReader(live, user.token) for user in users]
        try:
            # From now on, a window long enough for this test's publishes, whatever the
            # fan-out cost.
            monkeypatch.setattr(
                hub, "_pace", lambda spent: setattr(hub, "_paced_until", time.monotonic() + 1.0)
            )
            wires = []
            for session in list(hub.sessions.values()):
                connection = session.connection
                wires.append(CountingWire(connection._wire))
                connection._wire = wires[-1]
            audience = Audience(user_ids=tuple(int(u.id) for u in users))
            events = [Event("MESSAGE_CREATE", {"id": str(i)}, audience) for i in range(4)]
            for event in events:  # one turn each: the bus never has two in hand
                publish_in_one_turn(app, [event])
            for reader in readers:
                assert [reader.next_dispatch()["data"] for _ in events] == [e.data for e in events]
            # Written one by one, that is four writes each; here the first may have been
            # written at once (opening the window) and the rest together.
            assert all(1 <= len(w.writes) <= 2 for w in wires), [w.writes for w in wires]
        finally:
            for reader in readers:
                reader.close()
