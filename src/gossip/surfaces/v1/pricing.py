"""`GET /v1/pricing`: the price and plan table the meter charges from."""

from __future__ import annotations

from fastapi import APIRouter

from gossip.developer import pricing
from gossip.surfaces.v1.deps import ApiKey
from gossip.surfaces.v1.render import JSON, error_responses
from gossip.surfaces.v1.schemas import PricingOut

router = APIRouter(tags=["v1 pricing"])

_TABLE = pricing.table()


@router.get("/pricing", response_model=PricingOut, responses=error_responses(401, 403, 429))
async def get_pricing(key: ApiKey) -> JSON:
    return JSON(_TABLE)
