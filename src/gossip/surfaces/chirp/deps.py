"""Dependencies every Chirp route is built from: who is asking, and the transaction.

The adapter owns the transaction: `Writer` yields a session on the single write
connection, commits after the route returns, and only then publishes the events the
services collected. `scope="function"` makes that happen before the response is sent, so
a 2xx always means committed.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.audit.service import note_reason
from gossip.auth import service as auth_service
from gossip.auth.subject import Actor
from gossip.events import take
from gossip.kit import ids
from gossip.kit.errors import NotFound, RateLimited, Unauthorized
from gossip.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <access token>`")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).db.read_session() as session:
        yield session


@asynccontextmanager
async def write_transaction(runtime: Runtime, reason: str | None) -> AsyncIterator[AsyncSession]:
    """A write session that commits when the block ends without an error, then tells the
    token cache and publishes the collected events (the send hot path uses it too)."""
    async with runtime.db.write_session() as session:
        # Discord's convention: an audited action's reason may come as a header.
        note_reason(session, reason)
        yield session
        await session.commit()
        await runtime.auth_cache.committed(session)  # before the 2xx (auth/cache.py)
        # Still holding the write connection: events leave in commit order.
        runtime.bus.publish(take(session))


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with write_transaction(
        get_runtime(request), request.headers.get("x-audit-log-reason")
    ) as session:
        yield session


Reader = Annotated[AsyncSession, Depends(_read_session, scope="function")]
Writer = Annotated[AsyncSession, Depends(_write_session, scope="function")]


async def check_rate(request: Request, bucket: str, key: str) -> None:
    """Counts one request against `bucket` for `key`; headers go out with the response."""
    runtime = get_runtime(request)
    if not runtime.settings.rate_limits:
        return
    # request.state keeps its attributes in this dict, where RateLimitHeaders reads them.
    await hit_rate(runtime, bucket, key, request.scope.setdefault("state", {}))


async def hit_rate(runtime: Runtime, bucket: str, key: str, state: dict[str, Any]) -> None:
    """Counts one request; the headers for RateLimitHeaders go into the scope's `state`
    before any refusal (the send hot path calls this without a Request)."""
    decision = await runtime.limiter.hit(bucket, key, runtime.rule(bucket))
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(math.ceil(decision.reset_at)),
        "X-RateLimit-Bucket": bucket,
    }
    state["ratelimit_headers"] = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if not decision.allowed:
        retry = max(decision.retry_after, 0.001)
        headers["Retry-After"] = str(math.ceil(retry))
        raise RateLimited(retry, headers)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized()
    return credentials.credentials


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    runtime = get_runtime(request)
    token = _token(credentials)
    # Most requests are answered from the token cache, which is exact (auth/cache.py).
    actor, stamp = await runtime.auth_cache.get(token)
    if actor is None:
        claims = auth_service.read_token(runtime.tokens, token)
        async with runtime.db.read_session() as session:
            actor = await auth_service.actor_of(session, claims)
        if stamp is not None:
            runtime.auth_cache.put(token, actor, stamp, claims.expires_at)
    request.state.actor = actor
    await check_rate(request, "general", f"user:{actor.user_id}")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    return _token(credentials)


BearerToken = Annotated[str, Depends(bearer_token)]


async def auth_rate(request: Request) -> None:
    await check_rate(request, "auth", f"ip:{client_ip(request)}")


async def auth_status_rate(request: Request) -> None:
    await check_rate(request, "auth_status", f"ip:{client_ip(request)}")


def path_id(value: str, what: str) -> int:
    """A snowflake from the path; anything else names nothing, so 404."""
    parsed = ids.parse_id(value)
    if parsed is None:
        raise NotFound(what)
    return parsed


def started() -> float:
    return time.perf_counter()
