"""Fixed-window rate limiting for Gossip.

Every limited action counts one hit against a *bucket* (a fixed name such as
``"auth"`` or ``"messages"``) and a *key* (a user id, an IP address, ...).  A
:class:`Rule` allows ``limit`` hits per ``window`` seconds; :meth:`RateLimiter.hit`
returns a :class:`Decision` that carries everything needed for the
``X-RateLimit-*`` and ``Retry-After`` response headers.

Fixed windows were chosen over sliding logs or token buckets because in Redis
they are one atomic ``INCR`` per request (cheap, no per-request memory) and the
moment the window resets is known exactly, so ``X-RateLimit-Reset`` never lies.
The known trade-off is that a client may burst up to ``2 * limit`` hits across a
window boundary; for abuse protection that is acceptable.

Implementations:

* :class:`MemoryRateLimiter` - in-process, for the single-process default.
* :class:`RedisRateLimiter` - shared by every server process talking to one Redis.
* :class:`DisabledRateLimiter` - always allows (``GOSSIP_RATE_LIMITS=false``).

:func:`build_rate_limiter` picks Redis or memory from the configured URL.

In both real limiters a window starts at the first hit of a key (not aligned to
the epoch), so the two backends behave identically.  Refused hits are counted as
well; that costs nothing because the counter vanishes when its window ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import redis.asyncio

__all__ = [
    "Decision",
    "DisabledRateLimiter",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "Rule",
    "build_rate_limiter",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """Allow ``limit`` hits per ``window`` seconds."""

    limit: int
    window: float  # seconds

    def __post_init__(self) -> None:
        # Fail at configuration time rather than with odd decisions at runtime.
        # limit == 0 is allowed on purpose: it means "block everything".
        if self.limit < 0:
            raise ValueError(f"Rule.limit must be >= 0, got {self.limit}")
        if not self.window > 0:
            raise ValueError(f"Rule.window must be > 0 seconds, got {self.window}")


@dataclass(frozen=True, slots=True)
class Decision:
    """Outcome of one :meth:`RateLimiter.hit`."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # unix epoch seconds when the window resets
    retry_after: float  # seconds until a retry may succeed, 0 when allowed


@runtime_checkable
class RateLimiter(Protocol):
    """What the HTTP and WebSocket layers depend on."""

    async def hit(self, bucket: str, key: str, rule: Rule) -> Decision:
        """Count one request for ``key`` in ``bucket`` and decide whether it may proceed."""
        ...

    async def reset(self, bucket: str, key: str) -> None:
        """Forget the counter of ``key`` in ``bucket`` (tests, admin tools)."""
        ...

    async def close(self) -> None:
        """Release resources (connections); the limiter must not be used afterwards."""
        ...


def _check_bucket(bucket: str) -> None:
    # The Redis key is prefix + bucket + ":" + key.  Keys are arbitrary (user
    # input such as IPs or names), so only a colon-free bucket keeps the
    # mapping unambiguous: ("a:b", "c") and ("a", "b:c") must never collide.
    # Checked in every backend so code behaves the same whichever is deployed.
    if not bucket or ":" in bucket:
        raise ValueError(f"rate limit bucket must be non-empty and contain no ':': {bucket!r}")


def _decide(count: int, rule: Rule, ttl: float, now_epoch: float) -> Decision:
    """Build a Decision from the counter value after this hit and the window's time left."""
    allowed = count <= rule.limit
    return Decision(
        allowed=allowed,
        limit=rule.limit,
        remaining=max(0, rule.limit - count),
        reset_at=now_epoch + ttl,
        # A refused client can only succeed once the window is gone.
        retry_after=0.0 if allowed else ttl,
    )


class _Window:
    """Mutable counter of one key's current window (slots: there may be many)."""

    __slots__ = ("count", "expires_at")

    def __init__(self, expires_at: float) -> None:
        self.count = 0
        self.expires_at = expires_at  # monotonic clock


class MemoryRateLimiter:
    """In-process fixed-window limiter.

    Windows start at the first hit of a key and last ``rule.window`` seconds.
    Expiry uses the monotonic clock so wall-clock jumps (NTP) cannot stretch or
    cut a window; ``reset_at`` is translated to epoch time only when reported.

    :meth:`hit` contains no ``await``, so reading and updating a counter is
    atomic with respect to other coroutines on the event loop.  It is *not*
    thread-safe; use one instance per event loop.

    Memory stays bounded by pruning expired windows (:meth:`prune`), which
    happens automatically when either

    * the store has doubled since the last sweep (at least ``min_sweep_size``
      entries) - keeps the amortised cost per hit O(1) while bounding the dict
      to about twice the number of live windows, or
    * ``sweep_interval`` seconds have passed since the last sweep - so the
      store also shrinks after a burst when traffic is low.
    """

    def __init__(
        self,
        *,
        min_sweep_size: int = 1024,
        sweep_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_sweep_size < 1:
            raise ValueError("min_sweep_size must be >= 1")
        self._windows: dict[tuple[str, str], _Window] = {}
        self._min_sweep_size = min_sweep_size
        self._sweep_interval = sweep_interval
        self._clock = clock
        self._sweep_at_size = min_sweep_size
        self._next_sweep_time = clock() + sweep_interval

    @property
    def tracked_keys(self) -> int:
        """Number of counters currently stored (live or not yet pruned)."""
        return len(self._windows)

    async def hit(self, bucket: str, key: str, rule: Rule) -> Decision:
        _check_bucket(bucket)
        now = self._clock()
        k = (bucket, key)
        window = self._windows.get(k)
        if window is None or window.expires_at <= now:
            window = _Window(now + rule.window)
            self._windows[k] = window
        window.count += 1
        decision = _decide(window.count, rule, window.expires_at - now, time.time())
        if len(self._windows) >= self._sweep_at_size or now >= self._next_sweep_time:
            self.prune(now)
        return decision

    def prune(self, now: float | None = None) -> int:
        """Drop expired windows; return how many were removed."""
        if now is None:
            now = self._clock()
        expired = [k for k, w in self._windows.items() if w.expires_at <= now]
        for k in expired:
            del self._windows[k]
        # Next size-triggered sweep when the store doubles: the O(n) sweep is
        # then paid for by n new entries, i.e. O(1) amortised per hit.
        self._sweep_at_size = max(self._min_sweep_size, 2 * len(self._windows))
        self._next_sweep_time = now + self._sweep_interval
        return len(expired)

    async def reset(self, bucket: str, key: str) -> None:
        _check_bucket(bucket)
        self._windows.pop((bucket, key), None)

    async def close(self) -> None:
        self._windows.clear()


# KEYS[1] = counter key, ARGV[1] = window in milliseconds.
# INCR and PEXPIRE run atomically inside one script, so concurrent processes
# can neither lose increments nor leave a counter without expiry.  PTTL < 0
# (-1: key has no expiry, e.g. written by an older non-atomic version or by
# hand) is still repaired defensively; otherwise the key would block forever.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Fixed-window limiter shared by all processes using the same Redis.

    Each (bucket, key) is one Redis string ``prefix + bucket + ":" + key``
    holding the hit count, expiring when its window ends (windows start at the
    first hit).  One Lua script (EVALSHA, reloaded automatically after
    ``SCRIPT FLUSH`` or a failover) makes each hit a single atomic round trip.

    Redis errors propagate (``redis.RedisError``); whether to fail open or
    closed is the caller's policy.

    The client is closed by :meth:`close` only if ``owns_client`` is true, so a
    client shared with other components (pub/sub, caches) is left alone.
    """

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        prefix: str = "gossip:rl:",
        *,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._owns_client = owns_client
        # register_script does no I/O; it computes the SHA for EVALSHA.
        self._hit_script = redis_client.register_script(_HIT_SCRIPT)

    def _key(self, bucket: str, key: str) -> str:
        _check_bucket(bucket)
        return f"{self._prefix}{bucket}:{key}"

    async def hit(self, bucket: str, key: str, rule: Rule) -> Decision:
        redis_key = self._key(bucket, key)
        # Redis expiry has millisecond resolution; round up so a window is
        # never shorter than configured, and never 0 (PEXPIRE 0 deletes).
        window_ms = max(1, math.ceil(rule.window * 1000))
        count, ttl_ms = await self._hit_script(keys=[redis_key], args=[window_ms])
        # PTTL may read 0 in the last millisecond of a window; report at least
        # 1 ms so a refusal always carries a positive Retry-After.
        ttl = max(int(ttl_ms), 1) / 1000
        return _decide(int(count), rule, ttl, time.time())

    async def reset(self, bucket: str, key: str) -> None:
        await self._redis.delete(self._key(bucket, key))

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


class DisabledRateLimiter:
    """Always allows; for benchmarks with ``GOSSIP_RATE_LIMITS=false``.

    Reports ``remaining == limit`` and a window that would reset ``rule.window``
    seconds from now, so response headers stay well-formed.
    """

    async def hit(self, bucket: str, key: str, rule: Rule) -> Decision:
        # Validate anyway so a bad bucket name is caught in benchmarks too.
        _check_bucket(bucket)
        return Decision(
            allowed=True,
            limit=rule.limit,
            remaining=rule.limit,
            reset_at=time.time() + rule.window,
            retry_after=0.0,
        )

    async def reset(self, bucket: str, key: str) -> None:
        _check_bucket(bucket)

    async def close(self) -> None:
        return None


def build_rate_limiter(
    redis_url: str | None, *, enabled: bool = True, prefix: str = "gossip:"
) -> RateLimiter:
    """Return a Redis-backed limiter when ``redis_url`` is set, else an in-memory one.

    An empty string counts as unset, as an empty environment variable would.
    The Redis client is created lazily (no connection is made here) and is
    owned by the returned limiter, so ``await limiter.close()`` closes it.
    """
    if not enabled:
        return DisabledRateLimiter()
    if redis_url:
        return RedisRateLimiter(
            redis.asyncio.from_url(redis_url), prefix=f"{prefix}rl:", owns_client=True
        )
    return MemoryRateLimiter()
