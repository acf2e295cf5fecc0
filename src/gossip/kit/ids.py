"""Snowflake IDs with Discord's layout (spec 003).

64 bits: milliseconds since the Discord epoch (42 bits) | worker (10 bits) | increment
(12 bits). Time-ordered, so `ORDER BY id` is `ORDER BY created`, and the creation time is
read back from the ID instead of being stored twice.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_SNOWFLAKE = (1 << 63) - 1  # fits a signed BIGINT


class SnowflakeGenerator:
    def __init__(self, worker_id: int) -> None:
        if not 0 <= worker_id < 1024:
            raise ValueError("worker_id must be in 0..1023")
        self._worker = worker_id << 12
        self._last_ms = 0
        self._seq = 0
        # Generation is called from the event loop and from the SQLite thread pool alike.
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            now = int(time.time() * 1000) - DISCORD_EPOCH_MS
            if now < self._last_ms:
                # The clock went back: keep counting from the last time we used, so IDs
                # stay unique and ordered rather than repeat.
                now = self._last_ms
            if now == self._last_ms:
                self._seq = (self._seq + 1) & 0xFFF
                if self._seq == 0:
                    now = self._last_ms + 1
            else:
                self._seq = 0
            self._last_ms = now
            return (now << 22) | self._worker | self._seq


_generator = SnowflakeGenerator(0)


def configure(worker_id: int) -> None:
    global _generator
    _generator = SnowflakeGenerator(worker_id)


def new_id() -> int:
    return _generator.next()


def snowflake_time(snowflake: int) -> datetime:
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def snowflake_at(when: datetime) -> int:
    """The smallest snowflake of a moment, for range queries by time."""
    return max(0, int(when.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22


def parse_id(value: str | int | None) -> int | None:
    """A wire ID as an int, or None when it cannot be one of ours (callers answer 404/400)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_SNOWFLAKE else None
    # ASCII only: str.isdigit() also accepts "³" (which int() refuses) and other scripts'
    # digits (which int() reads as numbers), neither of which is one of our IDs.
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    if len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= MAX_SNOWFLAKE else None
