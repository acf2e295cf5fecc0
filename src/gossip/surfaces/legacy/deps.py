"""What every spec 002 route is built from: its token header, its bodies, transactions.

Spec 002 spells the header `Authorisation`; `Authorization` is accepted too, with or
without a `Bearer ` prefix. A missing token is a 400 and a wrong one a 401, as the spec
lists them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import legacy as legacy_auth
from gossip.auth.subject import Actor
from gossip.events import take
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.runtime import Runtime
from gossip.surfaces.chirp.deps import check_rate, client_ip, get_runtime

HEADERS = ("authorisation", "authorization")
MAX_IDS = 100  # per /users or /dmchannels request: bounds the query


def token_from(headers: Mapping[str, str]) -> str | None:
    """The bearer token of a request or a Socket.IO handshake (header names lower-case)."""
    for name in HEADERS:
        value = (headers.get(name) or "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if value:
            return value
    return None


async def authenticate(runtime: Runtime, token: str) -> Actor:
    """Its own short read transaction, so a write never holds the writer while it checks."""
    async with runtime.db.read_session() as session:
        return await legacy_auth.authenticate(session, token)


async def current_actor(request: Request) -> Actor:
    token = token_from(request.headers)
    if token is None:
        raise ValidationFailed("No Authorisation token")
    runtime = get_runtime(request)
    actor = await authenticate(runtime, token)
    await check_rate(request, "general", f"user:{actor.user_id}")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def login_rate(request: Request) -> None:
    await check_rate(request, "legacy_login", f"ip:{client_ip(request)}")


async def read_body(request: Request) -> dict[str, Any]:
    """A JSON object, or a form (spec 002 does not say which its clients send)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ValidationFailed("Malformed JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object")
    return body


Body = Annotated[dict[str, Any], Depends(read_body)]


def text(body: Mapping[str, Any], key: str) -> str | None:
    """A string field (a number is taken as its digits, since IDs travel as either)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationFailed.field(key, "must be a string")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise ValidationFailed.field(key, "must be a string")
    return value


def id_list(request: Request, name: str) -> list[int]:
    """IDs given comma-separated, as repeated parameters, or both (`name[]` too). Empty
    means none given (400); entries that cannot be IDs name nothing and are dropped."""
    raw = [*request.query_params.getlist(name), *request.query_params.getlist(f"{name}[]")]
    parts = [p.strip() for value in raw for p in value.split(",") if p.strip()]
    if not parts:
        raise ValidationFailed.field(name, "give at least one ID")
    if len(parts) > MAX_IDS:
        raise ValidationFailed.field(name, f"at most {MAX_IDS} IDs")
    found = (ids.parse_id(p) for p in parts)
    return list(dict.fromkeys(i for i in found if i is not None))


@asynccontextmanager
async def writing(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A write transaction owned by the adapter: commit, then publish what the services
    emitted while still holding the writer, so events leave in commit order."""
    async with runtime.db.write_session() as session:
        yield session
        await session.commit()
        await runtime.auth_cache.committed(session)
        runtime.bus.publish(take(session))
