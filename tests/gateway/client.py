"""A gateway client for tests, speaking the protocol of docs/gateway.md over a real socket."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.live import Live, User


class GatewayClient:
    def __init__(self, live: Live, path: str = "/", *, sock: socket.socket | None = None) -> None:
        url = live.url.replace("http://", "ws://") + path
        kwargs: dict[str, Any] = {
            "compression": None,
            "open_timeout": 10,
            "max_size": 2**22,
            # A test client lives across calls; the context-manager form does not fit.
            "legacy": True,
        }
        if sock is not None:
            kwargs["sock"] = sock
        self.ws: ClientConnection = connect(url, **kwargs)
        self.hello = self.recv()
        self.last_seq = 0
        self.session_id: str | None = None

    def send(self, body: dict[str, Any]) -> None:
        self.ws.send(json.dumps(body))

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        if "seq" in frame:
            self.last_seq = frame["seq"]
        return frame

    def authenticate(self, user: User) -> dict[str, Any]:
        self.send({"type": "AUTHENTICATE", "token": user.token})
        ready = self.wait_for("READY")
        self.session_id = ready["data"]["session_id"]
        return ready

    def wait_for(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next frame of this type whose data matches; frames before it are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if frame["type"] == type_ and all(
                frame.get("data", {}).get(k) == v for k, v in match.items()
            ):
                return frame

    def dispatches(self, until: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every frame up to and including the first of type `until`."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            frames.append(frame)
            if frame["type"] == until:
                return frames

    def drop(self) -> None:
        """Vanish without a close frame, as a lost network would."""
        self.ws.socket.shutdown(socket.SHUT_RDWR)
        self.ws.socket.close()

    def close_code(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; the close code it sent."""
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + timeout
        try:
            while True:
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def close(self) -> None:
        self.ws.close()


def connect_as(live: Live, user: User, path: str = "/") -> GatewayClient:
    client = GatewayClient(live, path)
    client.authenticate(user)
    return client


class StalledClient:
    """A client that authenticates and then stops reading, the way a phone on a dead
    network does. Built on websockets' sans-I/O protocol over a plain socket with a tiny
    receive buffer, because the library's clients keep reading in a background thread
    whether or not the test asks for frames, so they never push back on the server."""

    def __init__(self, live: Live, path: str = "/") -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        url = live.url.replace("http://", "ws://") + path
        self.protocol = ClientProtocol(parse_uri(url), max_size=2**22)
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.frames: list[dict[str, Any]] = []
        self.hello = self._next_frame()

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def _next_frame(self, timeout: float = 5.0) -> dict[str, Any]:
        from websockets.frames import Frame, Opcode

        deadline = time.monotonic() + timeout
        while not self.frames:
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    self.frames.append(json.loads(event.data))
            if self.frames:
                break
            if self.protocol.close_rcvd is not None or time.monotonic() > deadline:
                raise TimeoutError("no frame")
            self._read()
        return self.frames.pop(0)

    def _read(self) -> bool:
        """Takes in what the socket has; False once the server has closed it."""
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._flush()  # answers pings and close frames
        return bool(data)

    def authenticate(self, user: User) -> dict[str, Any]:
        self.protocol.send_text(json.dumps({"type": "AUTHENTICATE", "token": user.token}).encode())
        self._flush()
        while True:
            frame = self._next_frame()
            if frame["type"] == "READY":
                return frame

    def read_until_closed(
        self, timeout: float = 10.0
    ) -> tuple[bool, int | None, list[dict[str, Any]]]:
        """Starts reading again. Whether the server ended the connection within the
        timeout, the close code it sent (None when it could not send one: the socket was
        full), and every frame before the end."""
        from websockets.frames import Frame, Opcode

        deadline = time.monotonic() + timeout
        frames: list[dict[str, Any]] = []
        ended = False
        while not ended and time.monotonic() < deadline:
            try:
                ended = not self._read()
            except OSError:
                ended = True
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    frames.append(json.loads(event.data))
        closed = self.protocol.close_rcvd
        self.sock.close()
        return ended, (closed.code if closed is not None else None), frames
