"""The developer API (spec 001) under `/v1`: API keys, metering, spec 001's conventions.

Route modules are listed in ROUTES; each has a `router` (paths relative to PREFIX). A new
/v1 module adds itself there and builds on:

- deps.py: `ApiKey` (the key context: who the request acts for, mode, plan), `Reader` and
  `Writer` sessions, `charge(Category.X)` and `require_feature(...)` (402 on Free);
- pagination.py: `Page` (limit 1-100, default 20, opaque cursor), `paginate(...)` giving
  `{"items": [...], "next_cursor": ...}`, and prefixed IDs (`public_id`/`parse_public_id`);
- render.py: `JSON`, the error body `{"error": {"type", "message"}}` with its fixed set of
  types, and `error_responses(...)` for the OpenAPI entries;
- meter.py: nothing to call: the middleware admits, prices and records every /v1 response
  and adds X-Gossip-Cost-Usd and X-RateLimit-Limit/-Remaining/-Reset(/-Retry-After).

`install(app)` registers the error renderer, the routes and the meter.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from gossip.developer.batching import MeterBatcher
from gossip.surfaces import errors
from gossip.surfaces.routing import PrefixRouter
from gossip.surfaces.v1 import eventbus, pricing, profiles, usage, webhooks
from gossip.surfaces.v1.meter import Meter
from gossip.surfaces.v1.render import render_error

PREFIX = "/v1"

ROUTES = (pricing, usage, profiles, webhooks, eventbus)


def build_router() -> APIRouter:
    router = PrefixRouter(prefix=PREFIX)  # declines other paths at once (surfaces/routing.py)
    for module in ROUTES:
        router.include_router(module.router)
    return router


def install(app: FastAPI) -> None:
    """Routes and error renderer; the meter middleware is added by create_app with the
    others (middleware order is decided there)."""
    errors.register_renderer(PREFIX, render_error)
    app.state.v1_meter = MeterBatcher(app.state.runtime.db)
    app.include_router(build_router())


__all__ = ["PREFIX", "ROUTES", "Meter", "build_router", "install", "render_error"]
