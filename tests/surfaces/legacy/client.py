"""Spec 002 clients for tests: accounts made through `POST /new`, and the official
python-socketio client connected with the spec's handshake headers."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import socketio

from tests.live import Live

EVENTS = ("message", "messageDeleted", "channelCreate")


@dataclass
class Account:
    id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorisation": self.token}


def new_account(live: Live, username: str | None = None) -> Account:
    name = username or f"l{uuid.uuid4().hex[:10]}"
    response = live.post("/new", json={"username": name})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["dms"] == []
    return Account(body["id"], name, body["token"])


def open_channel(live: Live, creator: Account, other_id: str) -> str:
    response = live.post(
        "/create-channel", headers=creator.headers, json={"to": other_id, "type": 1}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["channel_id"])


def messages(live: Live, account: Account, channel_id: str) -> list[dict[str, Any]]:
    response = live.get("/messages", headers=account.headers, params={"channel_id": channel_id})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


class Listener:
    """A Socket.IO connection that records every spec 002 event it receives."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        channels: Iterable[str] = (),
        *,
        transports: list[str] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> None:
        self.received: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in EVENTS:
            self.client.on(name, self._recorder(name))
        headers = {}
        if token is not None:
            headers["Authorisation"] = token
        wanted = ",".join(channels)
        if wanted:
            headers["channels"] = wanted
        self.client.connect(url, headers=headers, transports=transports, auth=auth, wait_timeout=10)

    def _recorder(self, name: str) -> Any:
        def record(data: Any) -> None:
            self.received.put((name, data))

        return record

    def emit(self, event: str, data: dict[str, Any]) -> None:
        self.client.emit(event, data)

    def wait_for(self, event: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next `event` whose data matches; other events before it are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} matching {match} within {timeout}s")
            try:
                name, data = self.received.get(timeout=remaining)
            except queue.Empty:
                continue
            if name == event and all(data.get(k) == v for k, v in match.items()):
                return dict(data)

    def drain(self, wait: float = 0.3) -> list[tuple[str, Any]]:
        """Everything received within `wait` seconds from now (use after a sync point)."""
        time.sleep(wait)
        found = []
        while True:
            try:
                found.append(self.received.get_nowait())
            except queue.Empty:
                return found

    def close(self) -> None:
        self.client.disconnect()
