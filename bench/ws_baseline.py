"""The gateway's ceiling: a bare `websockets` server that broadcasts what a publisher sends.

It speaks just enough of docs/gateway.md for bench/gateway.py's clients to treat it like
Gossip: HELLO on connect, READY after any AUTHENTICATE, HEARTBEAT_ACK after HEARTBEAT.
A connection that authenticates with the token `publisher` is the sender: every text frame
it sends afterwards goes, byte for byte, to every other authenticated connection through
`websockets.broadcast` (one encoding, one `transport.write` per connection). No auth, no
database, no sequence numbers, no per-client queue: what is left is Python + asyncio
(uvloop when installed, as uvicorn uses) + the websockets frame writer on this machine.

`GET /health` answers 200 so the bench can wait for it like for `gossip serve`.

    python -m bench.ws_baseline --port 8002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from http import HTTPStatus

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

PUBLISHER_TOKEN = "publisher"
HELLO = b'{"type":"HELLO","data":{"heartbeatInterval":%d}}'
READY = b'{"type":"READY","seq":1,"data":{"user":{"id":"0"},"servers":[],"session_id":"bare"}}'
ACK = b'{"type":"HEARTBEAT_ACK"}'

subscribers: set[ServerConnection] = set()


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/health":
        return connection.respond(HTTPStatus.OK, '{"status":"ok"}')
    return None


async def handler(ws: ServerConnection, heartbeat_ms: int, auth_timeout: float) -> None:
    await ws.send(HELLO % heartbeat_ms, text=True)
    try:
        first = orjson.loads(await asyncio.wait_for(ws.recv(decode=False), auth_timeout))
    except (TimeoutError, orjson.JSONDecodeError):
        await ws.close(4010, "not authenticated in time")
        return
    if not isinstance(first, dict) or first.get("type") != "AUTHENTICATE":
        await ws.close(4003, "AUTHENTICATE first")
        return
    await ws.send(READY, text=True)
    if first.get("token") == PUBLISHER_TOKEN:
        async for frame in _frames(ws):
            broadcast(subscribers, frame, text=True)
        return
    subscribers.add(ws)
    try:
        async for frame in _frames(ws):
            if frame.startswith(b'{"type":"HEARTBEAT"'):
                await ws.send(ACK, text=True)
    finally:
        subscribers.discard(ws)


async def _frames(ws: ServerConnection) -> AsyncIterator[bytes]:
    """Text frames as bytes until the peer goes away."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            yield await ws.recv(decode=False)


async def main_async(host: str, port: int, heartbeat_ms: int, max_size: int) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with serve(
        lambda ws: handler(ws, heartbeat_ms, 10.0),
        host,
        port,
        process_request=health,
        # The same choices as `gossip serve` (src/gossip/cli.py websocket_options).
        compression=None,
        ping_interval=None,
        ping_timeout=None,
        max_size=max_size,
        server_header=None,
        backlog=4096,
    ):
        await stop


def main() -> None:
    parser = argparse.ArgumentParser(description="bare websockets broadcast baseline")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--heartbeat-ms", type=int, default=41_250)
    parser.add_argument("--max-size", type=int, default=16_384)
    args = parser.parse_args()
    if args.host != "127.0.0.1":
        parser.error("the baseline only listens on 127.0.0.1")
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    run(main_async(args.host, args.port, args.heartbeat_ms, args.max_size))


if __name__ == "__main__":
    main()
