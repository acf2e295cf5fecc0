"""The meter: every /v1 response is admitted against its key's daily cap, priced, recorded
and labelled with X-Gossip-Cost-Usd and spec 000's X-RateLimit-* headers.

A pure ASGI middleware, so every /v1 route, present and future, is metered without doing
anything: it holds the response back until the body is complete (its size is part of the
price), then, for a read, runs ONE write transaction that both admits the request (the
conditional upsert of api_key_days) and records its usage (api_usage, and last_used_at at
most once a minute), shared with the other requests waiting at that moment
(developer/batching.py: group commit). A read refused by the cap is answered 429 instead
of its body, which is never sent. Writes were admitted up front by `deps.api_key`; for
them this records usage only.

Responses without a key (401) carry X-Gossip-Cost-Usd: 0 and no X-RateLimit-* (there is
no key whose cap they could describe). A 429 costs nothing and is not recorded.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gossip.developer import pricing
from gossip.developer import service as developer
from gossip.developer.batching import MeterBatcher, MeterWork
from gossip.developer.pricing import Category
from gossip.developer.service import KeyContext
from gossip.kit.timefmt import utcnow
from gossip.surfaces.v1.deps import READ_METHODS, cap_headers
from gossip.surfaces.v1.render import error_body

COST_HEADER = b"x-gossip-cost-usd"


def _is_v1(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class Meter:
    def __init__(self, app: ASGIApp, prefix: str = "/v1") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_v1(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:  # trailers and the like: nothing /v1 sends
                await send(message)

        await self.app(scope, receive, hold)
        if start is None:
            return
        body = b"".join(chunks)
        status: int = start["status"]
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        state: dict[str, Any] = scope.setdefault("state", {})
        key: KeyContext | None = state.get("v1_key")
        cost = 0
        if key is not None and not state.get("v1_refused"):
            outcome = await self._meter(scope, state, key, status, len(body))
            if outcome is None:
                status, body, headers = self._refused(scope, key)
            else:
                cost, extra = outcome
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        headers = [(k, v) for k, v in headers if k != COST_HEADER]
        headers.append((COST_HEADER, pricing.usd(cost).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _meter(
        self, scope: Scope, state: dict[str, Any], key: KeyContext, status: int, size: int
    ) -> tuple[int, dict[str, str]] | None:
        """Admits (reads) and records the request; None when the cap refused it."""
        batcher: MeterBatcher = scope["app"].state.v1_meter
        category: Category = state.get("v1_category") or (
            Category.READ if scope["method"] in READ_METHODS else Category.WRITE
        )
        cost = developer.charge(key, category, size, status)
        now = utcnow()
        admitted: dict[str, str] | None = state.get("v1_admitted")
        work = MeterWork(
            key,
            now,
            admit=admitted is None,
            record=True,
            category=category,
            response_bytes=size,
            cost=cost,
        )
        count = await batcher.submit(work)
        if admitted is None:
            if count is None:
                return None  # refused: nothing was recorded
            admitted = cap_headers(
                key.daily_limit,
                count,
                int(now.timestamp() * 1000),
                int(developer.next_reset(now).timestamp() * 1000),
            )
        return cost, admitted

    def _refused(
        self, scope: Scope, key: KeyContext
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        now = utcnow()
        extra = cap_headers(
            key.daily_limit,
            None,
            int(now.timestamp() * 1000),
            int(developer.next_reset(now).timestamp() * 1000),
        )
        body = error_body(429, "Daily request limit of your plan reached")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        return 429, body, headers
