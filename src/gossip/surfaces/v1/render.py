"""Spec 001's error body, `{"error": {"type", "message"}}`, and JSON responses of `/v1`.

The `type` is one of a fixed set, decided by the status alone, so a client can switch on it:

| status | type |
| --- | --- |
| 400, 405, 413, 415 | invalid_request |
| 401 | authentication_error |
| 402 | payment_required |
| 403 | permission_denied |
| 404 | not_found |
| 409 | conflict |
| 429 | rate_limited |
| 503 | unavailable |
| 500 and anything else | api_error |
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi.responses import Response
from pydantic import BaseModel

from gossip.kit.errors import GossipError, RateLimited

ErrorType = Literal[
    "invalid_request",
    "authentication_error",
    "payment_required",
    "permission_denied",
    "not_found",
    "conflict",
    "rate_limited",
    "unavailable",
    "api_error",
]

TYPES: dict[int, ErrorType] = {
    400: "invalid_request",
    401: "authentication_error",
    402: "payment_required",
    403: "permission_denied",
    404: "not_found",
    405: "invalid_request",
    409: "conflict",
    413: "invalid_request",
    415: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def error_type(status: int) -> ErrorType:
    return TYPES.get(status, "api_error")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_body(status: int, message: str) -> bytes:
    return orjson.dumps({"error": {"type": error_type(status), "message": message}})


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        error_body(status, message),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def render_error(error: GossipError) -> Response:
    message = error.message
    if error.details:
        # The spec's body has no details list: the first problem goes into the message.
        first = error.details[0]
        message = f"{first.get('field', 'body')}: {first.get('message', message)}"
    headers = error.headers if isinstance(error, RateLimited) else None
    return failure(error.status, message, headers)


class ErrorDetail(BaseModel):
    type: ErrorType
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a /v1 route can answer."""
    return {status: {"model": ErrorOut} for status in statuses}
