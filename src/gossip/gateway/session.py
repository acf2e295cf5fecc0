"""A gateway session: one authenticated identity, its numbered events and its replay buffer.

A session outlives its WebSocket: after a drop it stays detached for the resume window,
still collecting events, so a RESUME with the last sequence the client saw replays exactly
what it missed. The buffer is also the send queue: the connection's sender walks it, and
how far the sender lags behind the newest sequence is the connection's backlog.

Entries hold the event's `Dispatch` (its frame in encoded halves), which every recipient
shares; the frame with this session's sequence number is only put together when it is sent.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Protocol

from gossip.gateway.wire import Dispatch

Entry = tuple[int, Dispatch]  # (seq, the event as every recipient shares it)


def render(entry: Entry) -> str:
    """The entry's frame as JSON text (the ASGI send path and tests)."""
    return entry[1].text(entry[0])


class Attached(Protocol):
    """What a session needs of the connection currently carrying it."""

    sent_seq: int

    def deliver(self, entry: Entry) -> None: ...

    def kick(self, code: int, reason: str) -> None: ...


class GatewaySession:
    __slots__ = (
        "auth_session_id",
        "buffer",
        "connection",
        "detached_at",
        "id",
        "max_pending",
        "seq",
        "servers",
        "user_id",
    )

    def __init__(self, user_id: int, auth_session_id: int, replay: int, max_pending: int) -> None:
        self.id = uuid.uuid4().hex
        self.user_id = user_id
        self.auth_session_id = auth_session_id
        self.seq = 0
        self.buffer: deque[Entry] = deque(maxlen=replay)
        self.max_pending = max_pending
        self.servers: set[int] = set()
        self.connection: Attached | None = None
        self.detached_at: float | None = None

    def push(self, dispatch: Dispatch) -> None:
        """Numbers and stores one dispatch; never waits, so one slow client blocks no one."""
        self.seq += 1
        entry = (self.seq, dispatch)
        self.buffer.append(entry)
        connection = self.connection
        if connection is None:
            return  # detached: kept for a RESUME, which frames_after() may still serve
        if self.seq - connection.sent_seq > self.max_pending:
            connection.kick(4013, "slow consumer: resume to continue")
            return
        connection.deliver(entry)

    def frames_after(self, seq: int) -> list[Entry] | None:
        """The entries after `seq`, or None when some of them are no longer buffered.

        Sequence numbers in the buffer are contiguous, so the missing tail is found by
        counting back from the end rather than by scanning.
        """
        missing = self.seq - seq
        if missing < 0 or seq < 0:
            return None
        if missing > len(self.buffer):
            return None
        buffer = self.buffer
        return [buffer[i] for i in range(-missing, 0)]

    def attach(self, connection: Attached, sent_seq: int) -> None:
        self.connection = connection
        self.detached_at = None
        connection.sent_seq = sent_seq

    def detach(self) -> None:
        self.connection = None
        self.detached_at = time.monotonic()
