"""Dispatch frames as bytes, built once per event, and written straight to the socket.

Fan-out writes the same event to every recipient; only the sequence number differs. So a
`Dispatch` keeps the frame's JSON in two encoded halves around `seq`, and a recipient's
whole WebSocket frame is a header computed from the length, the first half, the digits of
its `seq` and the second half: no JSON, no `Frame` object and no ASGI message per delivery.

RFC 6455 §5.2: a server's frames are never masked, so an unfragmented text frame is

    0x81 (FIN + opcode 1, text), then the payload length: one byte when < 126; 126 and two
    bytes (big-endian) when < 65,536; else 127 and eight bytes; then the payload.

`RawSocket` writes such bytes to the connection's asyncio transport, which ASGI does not
offer: it reaches into uvicorn's sans-I/O WebSocket protocol (`cli.websocket_options`
picks it), the object whose bound method is the server's ASGI `send`. Middleware wraps
that `send` in closures on its way to a route (Starlette's exception middleware always
does), so `ServerSend`, the app's outermost middleware, keeps the server's own in the scope
for the gateway. Everything that depends on uvicorn's internals is in `raw_socket` and
`RawSocket`; tests/gateway/test_wire.py fails if an upgrade moves them. Whenever the direct
write is not certainly what uvicorn's own send would do at once (another implementation,
compression negotiated, a close under way, the socket's buffer full), it refuses and the
caller falls back to the ASGI send.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

try:  # the implementation `gossip serve` uses; anything else gets the ASGI send
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn without it
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

from websockets.protocol import State

_TEXT = 0x81  # FIN set, opcode 1 (text)

# The scope's `extensions` key under which `ServerSend` keeps the server's own send.
SERVER_SEND = "gossip.server_send"


class ServerSend:
    """Outermost middleware: keeps a WebSocket's `send`, as the server gave it, in the
    scope. The gateway sends with it, past the middleware below; so none of that middleware
    may need to see or change `websocket.*` messages (none does: they act on HTTP only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope["extensions"] = {**(scope.get("extensions") or {}), SERVER_SEND: send}
        await self.app(scope, receive, send)


def server_send(scope: Scope, send: Send) -> Send:
    """The server's own send for this WebSocket when `ServerSend` kept it, else `send`."""
    kept: Send | None = (scope.get("extensions") or {}).get(SERVER_SEND)
    return kept if kept is not None else send


def text_frame_header(length: int) -> bytes:
    """The header of an unmasked, unfragmented text frame carrying `length` bytes."""
    if length < 126:
        return bytes((_TEXT, length))
    if length < 65536:
        return bytes((_TEXT, 126)) + length.to_bytes(2, "big")
    return bytes((_TEXT, 127)) + length.to_bytes(8, "big")


def text_frame(payload: bytes) -> bytes:
    return text_frame_header(len(payload)) + payload


class Dispatch:
    """One event as every recipient gets it, shared by all their replay buffers."""

    __slots__ = ("_fixed", "_head", "_tail", "data", "type")

    def __init__(self, type_: str, data_json: str) -> None:
        self.type = type_
        self.data = data_json
        self._head: bytes | None = None
        self._tail = b""
        self._fixed = 0  # len(head) + len(tail)

    def text(self, seq: int) -> str:
        """The frame's JSON for the session whose `seq` this is (docs/gateway.md)."""
        return f'{{"type":"{self.type}","seq":{seq},"data":{self.data}}}'

    def frame(self, seq: int) -> bytes:
        """The whole WebSocket frame of `text(seq)`, from the halves encoded once."""
        head = self._head
        if head is None:
            head = self._head = f'{{"type":"{self.type}","seq":'.encode()
            self._tail = f',"data":{self.data}}}'.encode()
            self._fixed = len(head) + len(self._tail)
        digits = b"%d" % seq
        length = self._fixed + len(digits)
        # text_frame_header, inlined: this runs once per delivery.
        if length < 126:
            header = bytes((_TEXT, length))
        elif length < 65536:
            header = bytes((_TEXT, 126, length >> 8, length & 0xFF))
        else:
            header = bytes((_TEXT, 127)) + length.to_bytes(8, "big")
        return b"".join((header, head, digits, self._tail))


class RawSocket:
    """Direct writes to one uvicorn WebSocket connection's transport (see the module doc)."""

    __slots__ = ("_conn", "_proto", "_transport", "_writable")

    def __init__(self, proto: Any) -> None:
        self._proto = proto
        self._conn = proto.conn  # websockets' ServerProtocol: its state says OPEN or not
        self._transport: asyncio.Transport = proto.transport
        self._writable: asyncio.Event = proto.writable  # cleared by pause_writing()

    def write(self, data: bytes) -> bool:
        """Writes `data` (whole frames) now, or returns False without writing anything.

        Refuses in every case where uvicorn's own send would not write at once: the
        socket's buffer is over its high-water mark (its send would wait), a close has been
        sent or received (its send would fail or refuse), the peer is gone.
        """
        proto = self._proto
        if (
            self._writable.is_set()
            and self._conn.state is State.OPEN
            and not proto.close_sent
            and not proto.disconnected
            and not self._transport.is_closing()
        ):
            self._transport.write(data)
            return True
        return False


def raw_socket(send: Any) -> RawSocket | None:
    """The direct writer for the connection behind an ASGI `send`, when it is safe to have.

    Call it after `websocket.accept` has been sent: the handshake, and with it the choice
    of extensions, is then done.
    """
    proto = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or type(proto) is not WebSocketsSansIOProtocol:
        return None  # another server or implementation, or a wrapped send
    if getattr(send, "__func__", None) is not WebSocketsSansIOProtocol.send:
        return None
    if not proto.handshake_complete or proto.initial_response is not None:
        return None
    if proto.conn.extensions:
        return None  # permessage-deflate (or any extension) rewrites frames: not ours to do
    return RawSocket(proto)
