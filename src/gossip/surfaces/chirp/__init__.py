"""Chirp (spec 004): the community-chat REST API under `/api`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gossip.kit.errors import GossipError, RateLimited
from gossip.surfaces.chirp import (
    auth,
    bans,
    channels,
    dms,
    invites,
    members,
    messages,
    roles,
    servers,
    typing_start,
    users,
)
from gossip.surfaces.chirp.envelope import failure

PREFIX = "/api"


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for module in (
        auth,
        users,
        servers,
        members,
        roles,
        bans,
        invites,
        channels,
        dms,
        messages,
        typing_start,
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
