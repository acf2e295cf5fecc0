"""Response shapes of `/v1`, for the OpenAPI document (responses are serialised directly)."""

from __future__ import annotations

from pydantic import BaseModel


class ProfileOut(BaseModel):
    id: str
    username: str
    full_name: str
    category: str
    bio: str | None
    avatar: str | None
    followers: int | None
    buzzes: int | None
    verified: bool
    created_at: str
    sandbox: bool


class BandwidthOut(BaseModel):
    usd_per_gb: str
    gb_bytes: int


class PriceOut(BaseModel):
    category: str
    usd_per_call: str
    plans: list[str]
    description: str


class PlanOut(BaseModel):
    plan: str
    price: str
    daily_requests_per_key: int | None
    features: list[str]
    description: str


class PricingOut(BaseModel):
    currency: str
    bandwidth: BandwidthOut
    prices: list[PriceOut]
    plans: list[PlanOut]


class CategoryUsageOut(BaseModel):
    requests: int
    bytes: int
    cost_usd: str


class DayUsageOut(BaseModel):
    date: str
    requests: int
    bytes: int
    cost_usd: str
    categories: dict[str, CategoryUsageOut]


class UsageOut(BaseModel):
    mode: str
    plan: str
    daily_limit: int
    items: list[DayUsageOut]
    next_cursor: str | None
