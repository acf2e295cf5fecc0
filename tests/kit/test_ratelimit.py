"""Tests for gossip.kit.ratelimit.

Sync pytest functions driving async code with ``asyncio.run``.  A redis.asyncio
client binds its connections to the event loop that opened them, so every
scenario creates its limiter(s) *inside* its own ``asyncio.run`` and cleans up
there too (see :meth:`Backend.run`).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import pytest
import redis.asyncio
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gossip.kit.ratelimit import (
    Decision,
    DisabledRateLimiter,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    Rule,
    build_rate_limiter,
)

REDIS_URL = os.environ.get("GOSSIP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

T = TypeVar("T")

# Slack for scheduling jitter in timing assertions (seconds).
EPS = 0.05


def _redis_client() -> redis.asyncio.Redis:
    return redis.asyncio.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL; skips (only) when the server cannot be reached."""

    async def ping() -> None:
        client = _redis_client()
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except AuthenticationError:
        # Reachable but misconfigured: that is a failure, not a skip.
        raise
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    # Unique per test so parallel runs and other suites on the same Redis never collide.
    return f"gossip:test:rl:{uuid.uuid4().hex}:"


async def _delete_prefix(client: redis.asyncio.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)


@asynccontextmanager
async def _redis_limiter(
    prefix: str,
) -> AsyncIterator[tuple[RedisRateLimiter, redis.asyncio.Redis]]:
    """A RedisRateLimiter on its own client; deletes the prefix's keys afterwards."""
    client = _redis_client()
    limiter = RedisRateLimiter(client, prefix=prefix, owns_client=True)
    try:
        yield limiter, client
    finally:
        await _delete_prefix(client, prefix)
        await limiter.close()


@dataclass
class Backend:
    name: str
    redis_prefix: str | None = None  # set for the Redis backend

    def run(self, scenario: Callable[[RateLimiter], Awaitable[T]]) -> T:
        """Create the limiter in a fresh event loop, run ``scenario``, clean up."""

        async def main() -> T:
            if self.redis_prefix is None:
                limiter = MemoryRateLimiter()
                try:
                    return await scenario(limiter)
                finally:
                    await limiter.close()
            async with _redis_limiter(self.redis_prefix) as (redis_limiter, _):
                return await scenario(redis_limiter)

        return asyncio.run(main())


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        yield Backend("memory")
    else:
        request.getfixturevalue("redis_url")  # skips when Redis is unreachable
        yield Backend("redis", redis_prefix=request.getfixturevalue("redis_prefix"))


# --------------------------------------------------------------------------- rules


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        Rule(limit=-1, window=1)
    with pytest.raises(ValueError):
        Rule(limit=1, window=0)
    assert Rule(limit=0, window=1).limit == 0


# ------------------------------------------------------------- shared behaviour


def test_first_n_allowed_then_refused(backend: Backend) -> None:
    rule = Rule(limit=5, window=10)

    async def scenario(limiter: RateLimiter) -> list[Decision]:
        return [await limiter.hit("auth", "alice", rule) for _ in range(6)]

    decisions = backend.run(scenario)
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert all(d.limit == 5 for d in decisions)
    assert all(d.retry_after == 0 for d in decisions[:5])
    refused = decisions[5]
    assert refused.remaining == 0
    assert 0 < refused.retry_after <= rule.window


def test_remaining_counts_down(backend: Backend) -> None:
    rule = Rule(limit=4, window=10)

    async def scenario(limiter: RateLimiter) -> list[int]:
        return [(await limiter.hit("auth", "bob", rule)).remaining for _ in range(6)]

    assert backend.run(scenario) == [3, 2, 1, 0, 0, 0]


def test_reset_at_in_future_within_window(backend: Backend) -> None:
    rule = Rule(limit=2, window=0.3)

    async def scenario(limiter: RateLimiter) -> tuple[float, list[Decision], float]:
        before = time.time()
        decisions = [await limiter.hit("auth", "carol", rule) for _ in range(3)]
        return before, decisions, time.time()

    before, decisions, after = backend.run(scenario)
    for d in decisions:
        assert d.reset_at > after - EPS
        assert d.reset_at <= before + rule.window + EPS
    # All hits share one fixed window, so they report the same reset moment.
    assert max(d.reset_at for d in decisions) - min(d.reset_at for d in decisions) < EPS
    refused = decisions[-1]
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(refused.reset_at - after, abs=EPS)


def test_allowed_again_after_window(backend: Backend) -> None:
    rule = Rule(limit=2, window=0.3)

    async def scenario(limiter: RateLimiter) -> tuple[list[Decision], Decision]:
        decisions = [await limiter.hit("auth", "dave", rule) for _ in range(3)]
        await asyncio.sleep(decisions[-1].retry_after + EPS)
        return decisions, await limiter.hit("auth", "dave", rule)

    decisions, later = backend.run(scenario)
    assert [d.allowed for d in decisions] == [True, True, False]
    assert later.allowed
    assert later.remaining == 1  # a brand-new window


def test_concurrent_hits_admit_exactly_limit(backend: Backend) -> None:
    rule = Rule(limit=37, window=30)

    async def scenario(limiter: RateLimiter) -> list[Decision]:
        return await asyncio.gather(*(limiter.hit("msg", "eve", rule) for _ in range(100)))

    decisions = backend.run(scenario)
    assert sum(d.allowed for d in decisions) == 37
    assert all(d.remaining == 0 and d.retry_after > 0 for d in decisions if not d.allowed)
    # Every remaining value 0..36 is handed out exactly once among the admitted.
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(37))


def test_isolated_per_bucket_and_key(backend: Backend) -> None:
    rule = Rule(limit=1, window=10)

    async def scenario(limiter: RateLimiter) -> dict[str, bool]:
        return {
            "auth/x first": (await limiter.hit("auth", "x", rule)).allowed,
            "auth/x second": (await limiter.hit("auth", "x", rule)).allowed,
            "other bucket": (await limiter.hit("msg", "x", rule)).allowed,
            "other key": (await limiter.hit("auth", "y", rule)).allowed,
            # Would collide with ("auth", "x") only under naive concatenation.
            "key with colon": (await limiter.hit("auth", "x:", rule)).allowed,
        }

    assert backend.run(scenario) == {
        "auth/x first": True,
        "auth/x second": False,
        "other bucket": True,
        "other key": True,
        "key with colon": True,
    }


def test_reset_forgets_counter(backend: Backend) -> None:
    rule = Rule(limit=1, window=10)

    async def scenario(limiter: RateLimiter) -> list[bool]:
        first = await limiter.hit("auth", "frank", rule)
        second = await limiter.hit("auth", "frank", rule)
        await limiter.reset("auth", "frank")
        await limiter.reset("auth", "never-seen")  # resetting nothing is fine
        third = await limiter.hit("auth", "frank", rule)
        return [first.allowed, second.allowed, third.allowed]

    assert backend.run(scenario) == [True, False, True]


def test_bucket_with_colon_rejected(backend: Backend) -> None:
    async def scenario(limiter: RateLimiter) -> None:
        with pytest.raises(ValueError):
            await limiter.hit("a:b", "c", Rule(limit=1, window=1))
        with pytest.raises(ValueError):
            await limiter.hit("", "c", Rule(limit=1, window=1))

    backend.run(scenario)


def test_limit_zero_blocks_everything(backend: Backend) -> None:
    async def scenario(limiter: RateLimiter) -> Decision:
        return await limiter.hit("auth", "gina", Rule(limit=0, window=5))

    d = backend.run(scenario)
    assert not d.allowed and d.remaining == 0 and d.retry_after > 0


# ----------------------------------------------------------------- Redis only


def test_redis_instances_share_one_counter(redis_url: str, redis_prefix: str) -> None:
    """Two limiters on two clients behave like two server processes."""
    rule = Rule(limit=3, window=10)

    async def main() -> list[tuple[bool, int]]:
        async with (
            _redis_limiter(redis_prefix) as (one, _),
            _redis_limiter(redis_prefix) as (two, _),
        ):
            seq = [
                await one.hit("auth", "hank", rule),
                await one.hit("auth", "hank", rule),
                await two.hit("auth", "hank", rule),
                await one.hit("auth", "hank", rule),
                await two.hit("auth", "hank", rule),
            ]
            await two.reset("auth", "hank")
            seq.append(await one.hit("auth", "hank", rule))
            return [(d.allowed, d.remaining) for d in seq]

    assert asyncio.run(main()) == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
        (False, 0),
        (True, 2),
    ]


def test_redis_repairs_counter_without_expiry(redis_url: str, redis_prefix: str) -> None:
    rule = Rule(limit=10, window=5)

    async def main() -> tuple[Decision, int]:
        async with _redis_limiter(redis_prefix) as (limiter, client):
            key = f"{redis_prefix}auth:ivan"
            await client.set(key, 4)  # a counter that would otherwise never expire
            decision = await limiter.hit("auth", "ivan", rule)
            return decision, await client.pttl(key)

    decision, pttl = asyncio.run(main())
    assert decision.allowed and decision.remaining == 5
    assert 0 < pttl <= 5000
    assert time.time() < decision.reset_at <= time.time() + rule.window + EPS


def test_redis_key_layout(redis_url: str, redis_prefix: str) -> None:
    async def main() -> tuple[bytes | None, int]:
        async with _redis_limiter(redis_prefix) as (limiter, client):
            await limiter.hit("auth", "1.2.3.4", Rule(limit=5, window=5))
            await limiter.hit("auth", "1.2.3.4", Rule(limit=5, window=5))
            key = f"{redis_prefix}auth:1.2.3.4"
            return await client.get(key), await client.pttl(key)

    value, pttl = asyncio.run(main())
    assert value == b"2"
    assert 0 < pttl <= 5000


# ---------------------------------------------------------------- memory only


def test_memory_prunes_after_interval() -> None:
    rule = Rule(limit=1, window=0.2)

    async def main() -> tuple[int, int]:
        limiter = MemoryRateLimiter(min_sweep_size=10_000, sweep_interval=0.25)
        for i in range(2000):
            await limiter.hit("auth", f"user-{i}", rule)
        grown = limiter.tracked_keys
        await asyncio.sleep(0.35)  # every window expired, sweep interval elapsed
        await limiter.hit("auth", "late", rule)
        return grown, limiter.tracked_keys

    grown, after = asyncio.run(main())
    assert grown == 2000
    assert after == 1


def test_memory_prunes_when_store_grows() -> None:
    rule = Rule(limit=1, window=0.1)

    async def main() -> list[int]:
        # No time-based sweep: only the size trigger can shrink the store.
        limiter = MemoryRateLimiter(min_sweep_size=64, sweep_interval=3600)
        sizes = []
        for round_no in range(5):
            for i in range(200):
                await limiter.hit("auth", f"r{round_no}-{i}", rule)
            sizes.append(limiter.tracked_keys)
            await asyncio.sleep(0.15)
        return sizes

    sizes = asyncio.run(main())
    # Without pruning this would reach 1000; with it, stale rounds are dropped
    # and the store stays within about twice the live keys.
    assert max(sizes) <= 2 * 200 + 1
    assert sizes[-1] < 5 * 200


def test_memory_prune_keeps_live_windows() -> None:
    async def main() -> tuple[int, Decision]:
        limiter = MemoryRateLimiter()
        await limiter.hit("auth", "short", Rule(limit=1, window=0.05))
        await limiter.hit("auth", "long", Rule(limit=1, window=10))
        await asyncio.sleep(0.1)
        removed = limiter.prune()
        # The long window still counts: a second hit is refused.
        return removed, await limiter.hit("auth", "long", Rule(limit=1, window=10))

    removed, decision = asyncio.run(main())
    assert removed == 1
    assert not decision.allowed


# ------------------------------------------------------------- disabled / build


def test_disabled_always_allows() -> None:
    rule = Rule(limit=1, window=1)

    async def main() -> list[Decision]:
        limiter = DisabledRateLimiter()
        try:
            return [await limiter.hit("auth", "anyone", rule) for _ in range(500)]
        finally:
            await limiter.close()

    decisions = asyncio.run(main())
    assert all(d.allowed for d in decisions)
    assert all(d.remaining == 1 and d.limit == 1 and d.retry_after == 0 for d in decisions)
    assert all(d.reset_at > time.time() - EPS for d in decisions)


def test_build_rate_limiter() -> None:
    assert isinstance(build_rate_limiter(None), MemoryRateLimiter)
    assert isinstance(build_rate_limiter(""), MemoryRateLimiter)

    async def main() -> RateLimiter:
        # from_url does not connect, so this needs no server.
        limiter = build_rate_limiter("redis://127.0.0.1:1/0")
        await limiter.close()
        return limiter

    limiter = asyncio.run(main())
    assert isinstance(limiter, RedisRateLimiter)
    for impl in (MemoryRateLimiter(), DisabledRateLimiter(), limiter):
        assert isinstance(impl, RateLimiter)


def test_build_rate_limiter_redis_works(redis_url: str) -> None:
    # build_rate_limiter uses the default prefix; a random bucket keeps the test isolated.
    bucket = f"test{uuid.uuid4().hex}"

    async def main() -> list[bool]:
        limiter = build_rate_limiter(redis_url)
        assert isinstance(limiter, RedisRateLimiter)
        try:
            rule = Rule(limit=1, window=5)
            return [(await limiter.hit(bucket, "jo", rule)).allowed for _ in range(2)]
        finally:
            await limiter.reset(bucket, "jo")
            await limiter.close()  # owns (and closes) the client it created

    assert asyncio.run(main()) == [True, False]
