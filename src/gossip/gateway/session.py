"""A gateway session: one authenticated identity, its numbered events and its replay buffer.

A session outlives its WebSocket: after a drop it stays detached for the resume window,
still collecting events, so a RESUME with the last sequence the client saw replays exactly
what it missed. The buffer is also the send queue: the connection's sender walks it, and
how far the sender lags behind the newest sequence is the connection's backlog.

The buffer holds the events' `Dispatch`es (each frame in encoded halves), which every
recipient shares; the frame with this session's sequence number is only put together when
it is sent. Sequence numbers are contiguous, so an entry's is its distance from the newest:
the buffer stores no per-session object at all. (It stored a `(seq, dispatch)` tuple each:
a million of them at 1,000 sockets, every one tracked by the garbage collector.)
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Protocol

from gossip.gateway.wire import Dispatch

Entry = tuple[int, Dispatch]  # (seq, the event as every recipient shares it), made on demand


def render(entry: Entry) -> str:
    """The entry's frame as JSON text (the ASGI send path and tests)."""
    return entry[1].text(entry[0])


class Attached(Protocol):
    """What a session needs of the connection currently carrying it."""

    sent_seq: int

    def deliver(self, seq: int, dispatch: Dispatch) -> None: ...

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
        self.buffer: deque[Dispatch] = deque(maxlen=replay)  # the newest has number `seq`
        self.max_pending = max_pending
        self.servers: set[int] = set()
        self.connection: Attached | None = None
        self.detached_at: float | None = None

    def push(self, dispatch: Dispatch) -> None:
        """Numbers and stores one dispatch; never waits, so one slow client blocks no one."""
        seq = self.seq = self.seq + 1
        self.buffer.append(dispatch)
        connection = self.connection
        if connection is None:
            return  # detached: kept for a RESUME, which frames_after() may still serve
        if seq - connection.sent_seq > self.max_pending:
            connection.kick(4013, "slow consumer: resume to continue")
            return
        connection.deliver(seq, dispatch)

    def frames_after(self, seq: int) -> list[Entry] | None:
        """The entries after `seq`, or None when some of them are no longer buffered.

        Sequence numbers in the buffer are contiguous, so the missing tail is found by
        counting back from the end rather than by scanning.
        """
        missing = self.seq - seq
        if missing < 0 or seq < 0:
            return None
        buffer = self.buffer
        if missing > len(buffer):
            return None
        if missing == 1:
            return [(self.seq, buffer[-1])]
        # By index from the end (cheap on a deque), not by walking from its start.
        return [(seq + 1 + i, buffer[i - missing]) for i in range(missing)]

    def attach(self, connection: Attached, sent_seq: int) -> None:
        self.connection = connection
        self.detached_at = None
        connection.sent_seq = sent_seq

    def detach(self) -> None:
        self.connection = None
        self.detached_at = time.monotonic()
