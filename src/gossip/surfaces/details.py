"""Spec 000's `GET /details` (unversioned): the API version, what is mounted, the host."""

from __future__ import annotations

import platform
import sys
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from gossip import __version__
from gossip.surfaces.v1.render import JSON

router = APIRouter(tags=["event bus"])

API_VERSION = "1"


class DetailsOut(BaseModel):
    version: str
    capabilities: dict[str, Any]
    meta: dict[str, Any]


def capabilities(app: FastAPI) -> dict[str, Any]:
    """Every mounted route, read from the app's own OpenAPI document, grouped by its first
    segment (the namespace: `api`, `v1`, …); `v1`'s topics (`core`, `webhooks`, …) too."""
    paths = sorted(app.openapi().get("paths", {}))
    namespaces: dict[str, list[str]] = {}
    for path in paths:
        namespaces.setdefault(path.strip("/").split("/", 1)[0], []).append(path)
    topics = sorted({p.split("/")[2] for p in namespaces.get("v1", []) if p.count("/") >= 2})
    return {
        "endpoints": paths,
        "namespaces": [{"name": n, "endpoints": e} for n, e in sorted(namespaces.items())],
        "v1_topics": topics,
    }


@router.get("/details", response_model=DetailsOut)
async def details(request: Request) -> JSON:
    app: FastAPI = request.app
    cached = getattr(app.state, "details", None)
    if cached is None:
        cached = app.state.details = {
            "version": API_VERSION,
            "capabilities": capabilities(app),
            "meta": {
                "host": {
                    "language": f"Python {sys.version_info.major}.{sys.version_info.minor}",
                    "library": f"Gossip {__version__}",
                    "os": f"{platform.system()}/{platform.release()}",
                }
            },
        }
    return JSON(cached)
