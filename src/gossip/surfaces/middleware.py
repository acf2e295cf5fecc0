"""Pure ASGI middleware shared by every HTTP surface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gossip.kit.errors import PayloadTooLarge
from gossip.surfaces.errors import render


class BodyLimit:
    """Refuses bodies over `limit` bytes with 413 before they are buffered.

    A declared Content-Length over the cap is refused before reading anything; a chunked
    body is counted as it streams and cut off at the cap, so memory stays flat either way.
    `limit_for` may give some requests a cap of their own (uploads: GOSSIP_MAX_UPLOAD_BYTES).
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        exempt_prefixes: tuple[str, ...] = (),
        limit_for: Callable[[Scope], int | None] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt_prefixes
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        limit = (self.limit_for(scope) if self.limit_for else None) or self.limit
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await render(scope["path"], PayloadTooLarge(limit), scope.get("app"))(
                    scope, receive, send
                )
                return
        seen = 0
        overflowed = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, overflowed
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    overflowed = True
                    # The app sees a vanished client and stops reading.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not overflowed:
                raise
        if overflowed and not started:
            await render(scope["path"], PayloadTooLarge(limit), scope.get("app"))(
                scope, receive, send
            )


class RateLimitHeaders:
    """Copies the rate-limit decision a route made (in request.state) onto its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_rate_headers(message, scope)
            await send(message)

        await self.app(scope, receive, with_headers)


def add_rate_headers(start: Message, scope: Scope) -> None:
    """Adds the decision's headers (those the response does not set itself) to a
    response's start message."""
    state: dict[str, Any] = scope.get("state", {})
    extra: list[tuple[bytes, bytes]] | None = state.get("ratelimit_headers")
    if extra:
        existing = {name.lower() for name, _ in start.get("headers", [])}
        start["headers"] = list(start.get("headers", [])) + [
            (k, v) for k, v in extra if k not in existing
        ]
