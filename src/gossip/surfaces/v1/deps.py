"""What every `/v1` route is built from: the API key, the transaction, the price category.

Interface for /v1 route modules (this package's and later ones):

- `ApiKey` (`Annotated[KeyContext, Depends(api_key)]`): authenticates
  `Authorization: Bearer gsk_live_…|gsk_test_…`; a missing, malformed, unknown or revoked
  key is 401 (`authentication_error`), a disabled owner 403. It yields a
  `gossip.developer.service.KeyContext`: `key_id`, `user_id` (the owner: the only account
  the request may act for), `mode` ("live"/"test", `.live`), `plan` ("free"/"pro"/"scale"),
  `daily_limit`, and `.has(feature)`. A test key must never reach live accounts: serve it
  from `gossip.developer.sandbox` (or the route's own sandbox data).
- `Reader` / `Writer`: the same sessions as /api (surfaces/chirp/deps.py). The Writer
  commits after the route returns and before the response, then publishes the events the
  services emitted (`gossip.events.emit`).
- `charge(Category.X)`: a dependency a route lists (`dependencies=[Depends(charge(...))]`)
  to be priced as X instead of by method (GET: read; anything else: write). Paid-only
  categories (promo, AI) answer 402 on Free. `require_feature("export")` likewise.
- The daily cap and the meter need nothing from a route: `meter.Meter` (ASGI middleware)
  admits the request against the cap (GETs after rendering, in the same single write
  transaction that records usage; other methods up front, in `api_key`, so a refused write
  never happens), prices the response and adds X-Gossip-Cost-Usd and the X-RateLimit-*
  headers to every /v1 response.
- Pagination and prefixed IDs: `surfaces/v1/pagination.py`.
- Errors: raise the GossipError family; `render.py` turns them into spec 001's body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gossip.developer import pricing
from gossip.developer import service as developer
from gossip.developer.batching import MeterBatcher, MeterWork
from gossip.developer.pricing import Category
from gossip.developer.service import KeyContext
from gossip.kit.errors import PaymentRequired, RateLimited, Unauthorized
from gossip.kit.timefmt import utcnow
from gossip.surfaces.chirp.deps import Reader, Writer, get_runtime

__all__ = [
    "ApiKey",
    "KeyContext",
    "PaymentRequired",
    "Reader",
    "Writer",
    "api_key",
    "charge",
    "require_feature",
]

v1_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer gsk_live_…` or `gsk_test_…`",
)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DailyCapReached(RateLimited):
    default_message = "Daily request limit of your plan reached"

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(0, headers)
        self.message = self.default_message


def cap_headers(limit: int, count: int | None, now_ms: int, reset_ms: int) -> dict[str, str]:
    """Spec 000's headers; X-RateLimit-Retry-After (ms) only when refused (count None)."""
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - count) if count is not None else 0),
        "X-RateLimit-Reset": str(reset_ms),
    }
    if count is None:
        wait = max(1, reset_ms - now_ms)
        headers["X-RateLimit-Retry-After"] = str(wait)
        headers["Retry-After"] = str(-(-wait // 1000))
    return headers


async def admit(request: Request, key: KeyContext) -> int | None:
    """Counts the request against the key's daily cap (committed before it goes on)."""
    batcher: MeterBatcher = request.app.state.v1_meter
    return await batcher.submit(MeterWork(key, utcnow(), admit=True, record=False))


async def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(v1_bearer)],
    session: Reader,
) -> KeyContext:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Missing API key: send Authorization: Bearer gsk_…")
    secret = credentials.credentials
    # Most requests are answered from the key cache, which is exact like the token cache
    # (auth/cache.py: a revoked key, a disabled owner or a new plan is seen at once).
    cache = get_runtime(request).auth_cache
    secret_digest = developer.digest(secret)
    key, stamp = await cache.get_key(secret_digest)
    if key is None:
        # The route's own Reader, when it has one (FastAPI shares a dependency within a
        # request): the key lookup and the read it guards cost one session, not two.
        key = await developer.authenticate(session, secret)
        if stamp is not None:
            cache.put_key(secret_digest, key, stamp)
    request.state.v1_key = key
    if request.method not in READ_METHODS:
        # A write is admitted before it happens; reads are admitted by the meter. The read
        # connection goes back to the pool first: holding it while waiting for the meter's
        # (and then the route's) write connection could exhaust a shared pool.
        await session.close()
        now = utcnow()
        count = await admit(request, key)
        headers = cap_headers(
            key.daily_limit,
            count,
            int(now.timestamp() * 1000),
            int(developer.next_reset(now).timestamp() * 1000),
        )
        request.state.v1_admitted = headers
        if count is None:
            request.state.v1_refused = True
            raise DailyCapReached(headers)
    return key


ApiKey = Annotated[KeyContext, Depends(api_key)]


def charge(category: Category) -> Callable[[Request, KeyContext], Awaitable[None]]:
    """Prices the route as `category`; 402 when the key's plan does not include it."""

    async def dependency(request: Request, key: ApiKey) -> None:
        feature = pricing.FEATURE_OF.get(category)
        if feature is not None and not key.has(feature):
            raise PaymentRequired(f"{category.value} needs the Pro plan")
        request.state.v1_category = category

    return dependency


def require_feature(feature: str) -> Callable[[KeyContext], Awaitable[None]]:
    """402 unless the key's plan includes `feature` (pricing.PLANS: analytics, export…)."""

    async def dependency(key: ApiKey) -> None:
        if not pricing.has_feature(key.plan, feature):
            raise PaymentRequired(f"{feature} needs the Pro plan")

    return dependency
