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
