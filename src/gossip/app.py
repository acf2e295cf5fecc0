"""create_app(): one ASGI app serving every surface over one store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp

from gossip import __version__
from gossip.auth.cache import TokenCache
from gossip.bus import build_bus
from gossip.config import Settings, gateway_limits
from gossip.db.engine import connect
from gossip.gateway.connection import gateway_endpoint
from gossip.gateway.hub import Hub
from gossip.gateway.presence import build_presence
from gossip.gateway.wire import ServerSend
from gossip.hooks.outbox import Outbox
from gossip.hooks.worker import Worker
from gossip.kit import ids
from gossip.kit.ratelimit import build_rate_limiter
from gossip.kit.security import AccessTokens, PasswordHashing
from gossip.media import service as media_service
from gossip.runtime import Runtime
from gossip.surfaces import chirp, details, errors, v1
from gossip.surfaces.chirp.send_path import SendPath
from gossip.surfaces.middleware import BodyLimit, RateLimitHeaders

log = logging.getLogger("gossip")


def claim_worker_id(settings: Settings) -> int:
    """The snowflake worker number of this process.

    Given explicitly, it is used as is. With Redis, each process takes the next number of a
    shared counter, so two processes never mint the same ID; alone, the process id will do.
    """
    if settings.worker_id is None and settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        try:
            return int(client.incr(f"{settings.redis_prefix}worker-id")) % 1024
        finally:
            client.close()
    return settings.resolved_worker_id


def build_runtime(settings: Settings) -> Runtime:
    ids.configure(claim_worker_id(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = connect(settings.resolved_database_url)
    bus = build_bus(settings.redis_url, settings.redis_prefix)
    presence = build_presence(settings.redis_url, settings.redis_prefix)
    outbox = Outbox()
    db.before_commit.append(outbox.stage)
    db.after_commit.append(outbox.after_commit)
    bus.subscribe(outbox.on_bus_event)
    return Runtime(
        settings=settings,
        db=db,
        bus=bus,
        limiter=build_rate_limiter(
            settings.redis_url, enabled=settings.rate_limits, prefix=settings.redis_prefix
        ),
        passwords=PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_kib),
        tokens=AccessTokens(settings.resolved_secret_key, settings.access_token_ttl),
        hub=Hub(db, bus, presence, gateway_limits(settings)),
        media=media_service.build(settings),
        outbox=outbox,
        auth_cache=TokenCache(
            redis_url=settings.redis_url,
            redis_prefix=settings.redis_prefix,
            epoch_file=settings.data_dir / "auth-epoch",
        ),
    )


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document without its 422 entries: every surface answers a failed
    validation with its own error body and status (400 on `/api`), which each route lists."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("422", None)
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


class GossipApp(FastAPI):
    """FastAPI with an optional layer in front of FastAPI's own (server errors, telemetry,
    body limit), which `add_middleware` cannot reach: the send hot path, whose every
    request would otherwise pass through three more coroutines and two wrappers of its
    `send` and `receive` (docs/performance.md)."""

    front: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.front is None else self.front(stack)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.bus.start()
        await runtime.hub.start()
        worker: Worker | None = None
        if settings.webhook_worker:
            worker = Worker(runtime.db, settings)
            runtime.outbox.on_enqueued(worker.wake)
            await worker.start()
        yield
        if worker is not None:
            await worker.close()
        await runtime.hub.close()
        await runtime.bus.close()
        await runtime.limiter.close()
        await app.state.v1_meter.close()  # gives back the connection it keeps
        await runtime.db.dispose()
        await runtime.media.storage.close()
        await runtime.auth_cache.close()

    app = GossipApp(
        title="Gossip",
        version=__version__,
        summary="Self-hostable chat and community platform server",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.hub = runtime.hub
    errors.register_renderer("/", chirp.render_error)
    errors.register_renderer(chirp.PREFIX, chirp.render_error)
    errors.install(app)
    app.include_router(chirp.build_router())
    # The developer API (spec 001): key auth, metering, its own error body.
    v1.install(app)
    # Spec 000's unversioned GET /details.
    app.include_router(details.router)
    # Multipart forms of JSON routes (files), and the bytes at /media/….
    chirp.media.install(app)

    # Spec 004 connects to the bare host; /ws is the conventional alias.
    # Plain Starlette routes: FastAPI's dependency machinery would stay alive, per socket,
    # for the whole life of every connection.
    app.router.routes.append(WebSocketRoute("/", gateway_endpoint))
    app.router.routes.append(WebSocketRoute("/ws", gateway_endpoint))

    if settings.legacy_dm:
        # Spec 002's DM chat and its Socket.IO; off by default (docs/legacy.md says why).
        from gossip.surfaces import legacy

        app.state.legacy = legacy.install(app, runtime)

    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(v1.Meter, prefix=v1.PREFIX)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        limit_for=chirp.media.upload_body_limit(settings.max_upload_bytes),
    )
    # Our outermost: the gateway writes to its sockets with the server's own send, past
    # the middleware above (all HTTP-only) and Starlette's wrappers (gateway/wire.py).
    # FastAPI's own layers outside it are HTTP-only, and SendPath hands WebSocket scopes and
    # their send on untouched.
    app.add_middleware(ServerSend)
    if runtime.db.is_sqlite and settings.send_group_commit:
        # In front of everything: a plain message send is served before any other layer is
        # entered; anything else passes through untouched (surfaces/chirp/send_path.py).
        app.front = lambda inner: SendPath(inner, runtime=runtime)
    return app
