"""Chirp (spec 004): the community-chat REST API under `/api`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gossip.kit.errors import GossipError, RateLimited
from gossip.surfaces.chirp import (
    admin,
    audit,
    auth,
    bans,
    channels,
    developer,
    dms,
    invites,
    media,
    members,
    messages,
    roles,
    search,
    servers,
    threads,
    typing_start,
    users,
    voice,
    webhooks,
)
from gossip.surfaces.chirp.envelope import failure
from gossip.surfaces.routing import PrefixRouter

PREFIX = "/api"


def build_router() -> APIRouter:
    # Declines /v1, /media… paths at once (surfaces/routing.py).
    router = PrefixRouter(prefix=PREFIX)
    for module in (
        # First: a request is matched against the routes in this order, at a cost per route
        # tried, and sending and reading messages are most of the traffic. No other
        # module's route matches a path of these, so the order decides nothing else.
        messages,
        # Second: searching is the dearest read, and tried after every other module it
        # paid for matching ~150 routes first (docs/performance.md, issue 4).
        search,
        # Incoming webhooks, voice signaling, administration and the audit log (issue 4).
        webhooks,
        voice,
        admin,
        audit,
        auth,
        users,
        servers,
        members,
        roles,
        bans,
        invites,
        channels,
        dms,
        threads,
        typing_start,
        media,
        # The dashboard's API of the developer platform (issue 5).
        developer,
    ):
        router.include_router(module.router)
    return router


def render_error(error: GossipError) -> Response:
    if isinstance(error, RateLimited):
        return failure(
            error.code,
            error.message,
            error.status,
            headers=error.headers,
            extra={"retryAfter": int(error.retry_after * 1000) or 1},
        )
    return failure(error.code, error.message, error.status, details=error.details)
