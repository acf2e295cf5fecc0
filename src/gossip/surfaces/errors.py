"""Turns every failure into the error body of the surface the request came through.

Each surface registers a renderer for its path prefix; the longest prefix wins. Framework
errors (unknown route, malformed JSON, failed validation, unexpected exceptions) become
domain errors first, so every surface answers them in its own dialect, never as a
traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from gossip.kit.errors import (
    AlreadyExists,
    GossipError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)

log = logging.getLogger("gossip.errors")

Renderer = Callable[[GossipError], Response]
_renderers: list[tuple[str, Renderer]] = []


def register_renderer(prefix: str, renderer: Renderer, *, app: Any = None) -> None:
    """For every app in the process, or, given `app`, for that one only (a surface that
    a setting switches on must not change other apps' answers, as in the test suite)."""
    if app is None:
        table = _renderers
    else:
        table = getattr(app.state, "error_renderers", None)
        if table is None:
            table = app.state.error_renderers = []
    table.append((prefix, renderer))
    table.sort(key=lambda pair: len(pair[0]), reverse=True)


def render(path: str, error: GossipError, app: Any = None) -> Response:
    """The error in the terms of the surface owning `path`: the longest matching prefix,
    among the app's own renderers and everyone's."""
    own: list[tuple[str, Renderer]] = getattr(getattr(app, "state", None), "error_renderers", [])
    for prefix, renderer in sorted([*own, *_renderers], key=lambda p: len(p[0]), reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/") or prefix == "/":
            return renderer(error)
    raise LookupError("no error renderer registered")  # a programming error at startup


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_details(errors: Any) -> list[dict[str, Any]]:
    details = []
    for error in errors:
        message = str(error.get("msg", "Invalid value"))
        field = _field(tuple(error.get("loc", ())))
        if error.get("type") == "json_invalid":
            # Its loc is ("body", <character offset>): the offset is no field's name.
            message, field = "Malformed JSON", "body"
        details.append({"field": field, "message": message})
    return details


def from_http(exc: HTTPException) -> GossipError:
    if exc.status_code == 404:
        return NotFound("Route")
    if exc.status_code == 401:
        return Unauthorized()
    if exc.status_code == 413:
        return ValidationFailed("Request body too large", status=413)
    return ValidationFailed(str(exc.detail), status=exc.status_code)


def install(app: FastAPI) -> None:
    async def on_gossip(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GossipError)
        return render(request.url.path, exc, request.app)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(
            request.url.path,
            ValidationFailed(details=validation_details(exc.errors())),
            request.app,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return render(request.url.path, from_http(exc), request.app)

    async def on_integrity(request: Request, exc: Exception) -> Response:
        # A unique constraint lost a race the service's own check could not see.
        log.info("integrity error on %s: %s", request.url.path, exc.__class__.__name__)
        return render(request.url.path, AlreadyExists(), request.app)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request.url.path, GossipError(), request.app)

    app.add_exception_handler(GossipError, on_gossip)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(Exception, on_unexpected)


__all__ = ["PayloadTooLarge", "install", "register_renderer", "render"]
