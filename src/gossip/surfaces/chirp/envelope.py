"""Spec 004's response envelope: `{success, data, message, timestamp}`."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import orjson
from fastapi.responses import Response
from pydantic import BaseModel

from gossip.kit.timefmt import iso, utcnow

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """For the OpenAPI document; responses are serialised directly with orjson."""

    success: bool
    data: T
    message: str
    timestamp: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = []
    retryAfter: int | None = None


class ErrorEnvelope(BaseModel):
    success: bool
    error: ErrorBody
    timestamp: str


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any = None, *, status: int = 200, message: str = "Operation successful") -> JSON:
    return JSON(
        {"success": True, "data": data, "message": message, "timestamp": iso(utcnow())},
        status_code=status,
    )


def failure(
    code: str,
    message: str,
    status: int,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSON:
    error: dict[str, Any] = {"code": code, "message": message, "details": details or []}
    if extra:
        error.update(extra)
    return JSON(
        {"success": False, "error": error, "timestamp": iso(utcnow())},
        status_code=status,
        headers=headers,
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {status: {"model": ErrorEnvelope} for status in statuses}
