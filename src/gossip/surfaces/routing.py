"""Routers that only paths under their prefix can match.

The app's router asks each included router in turn whether it matches, and FastAPI
answers by trying every route beneath it. The `/api` router holds about two hundred, so
every request for a path after it (`/v1/…`, `/media/…`, `/health`) paid for trying them
all: measured, 0.2 ms of a /v1 read's ~3 ms (docs/performance.md, issue 5). A router whose
every route starts with its prefix cannot match anything else, so it says so at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


def _route_path(scope: Scope) -> str:
    # Starlette's get_route_path: the path without the app's root_path.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class PrefixRouter(APIRouter):
    """An APIRouter with a prefix that declines any path outside it without looking at its
    routes (everything else is APIRouter's own)."""

    def __init__(self, *, prefix: str, **kwargs: Any) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must start and not end with '/'")
        super().__init__(prefix=prefix, **kwargs)
        self._inside = prefix + "/"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = _route_path(scope)
        if path != self.prefix and not path.startswith(self._inside):
            return Match.NONE, {}
        return super().matches(scope)
