"""The one price and plan table: the meter charges from it and GET /v1/pricing shows it.

Money is counted in pico-USD (10^-12 USD) as integers: bandwidth is $0.10 per GB of
response bytes (10^9 bytes), i.e. exactly 100 pico-USD a byte, so every price and every
sum is exact, and the X-Gossip-Cost-Usd headers of a day add up to its usage report to the
last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

PICO_PER_USD = 10**12
BANDWIDTH_PICO_PER_BYTE = 100  # $0.10 / GB, GB = 10^9 bytes


class Category(StrEnum):
    """What a /v1 call is charged as. GET routes are reads unless they say otherwise;
    other methods are writes unless they say otherwise (surfaces/v1/deps.charge)."""

    READ = "read"
    WRITE = "write"
    OTP = "otp"
    PROMO = "promo"
    AI_MODERATE = "ai_moderate"
    AI_GENERATE = "ai_generate"


PER_CALL_PICO: dict[Category, int] = {
    Category.READ: 0,
    Category.WRITE: 20_000_000,  # $0.00002
    Category.OTP: 100_000_000,  # $0.0001
    Category.PROMO: 10_000_000_000,  # $0.01
    Category.AI_MODERATE: 2_000_000_000,  # $0.002
    Category.AI_GENERATE: 10_000_000_000,  # $0.01 (generate and chat)
}

DESCRIPTIONS: dict[Category, str] = {
    Category.READ: "Profiles, buzzes, sips, studio, search, about: bandwidth only.",
    Category.WRITE: "Delete buzz/sip, Studio create/update/delete.",
    Category.OTP: "In-app verification code. Every plan.",
    Category.PROMO: "In-app marketing message as your profile. Pro only.",
    Category.AI_MODERATE: "Content classification. Pro only.",
    Category.AI_GENERATE: "Text generation and chat replies. Pro only.",
}


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    SCALE = "scale"


@dataclass(frozen=True, slots=True)
class PlanTerms:
    daily_requests: int | None  # None: set per account by an administrator (Scale)
    price: str
    features: frozenset[str]
    description: str


PLANS: dict[Plan, PlanTerms] = {
    Plan.FREE: PlanTerms(
        100, "$0 / mo", frozenset({"reads", "otp"}), "100 requests/day per key; reads + OTP."
    ),
    Plan.PRO: PlanTerms(
        100_000,
        "$9.99 / mo",
        frozenset({"reads", "otp", "promo", "ai", "analytics", "export"}),
        "100,000 requests/day per key; promo messages, AI, analytics, export.",
    ),
    Plan.SCALE: PlanTerms(
        None,
        "Custom",
        frozenset({"reads", "otp", "promo", "ai", "analytics", "export"}),
        "Limits an administrator sets; everything Pro has.",
    ),
}

PRO_DAILY = 100_000
_PLAN_NAMES = frozenset(p.value for p in Plan)

# The plan feature a category's calls need (402 without it); the others need none.
FEATURE_OF: dict[Category, str] = {
    Category.PROMO: "promo",
    Category.AI_MODERATE: "ai",
    Category.AI_GENERATE: "ai",
}


def daily_limit(plan: str, custom: int | None) -> int:
    """A key's daily request cap. Scale without a limit set falls back to Pro's."""
    terms = PLANS[Plan(plan)] if plan in _PLAN_NAMES else PLANS[Plan.FREE]
    if terms.daily_requests is None:
        return custom if custom is not None else PRO_DAILY
    return terms.daily_requests


def has_feature(plan: str, feature: str) -> bool:
    try:
        return feature in PLANS[Plan(plan)].features
    except ValueError:
        return False


def cost_pico(category: Category, response_bytes: int, *, succeeded: bool) -> int:
    """Bandwidth is charged on every response; the per-call price only when the call did
    what it was asked (2xx)."""
    per_call = PER_CALL_PICO[category] if succeeded else 0
    return per_call + BANDWIDTH_PICO_PER_BYTE * response_bytes


def usd(pico: int) -> str:
    """pico-USD as a plain decimal string, exact: 20000000 -> "0.00002", 0 -> "0"."""
    if pico == 0:
        return "0"
    return format((Decimal(pico) / PICO_PER_USD).normalize(), "f")


def table() -> dict[str, Any]:
    """GET /v1/pricing's body."""
    return {
        "currency": "usd",
        "bandwidth": {"usd_per_gb": usd(BANDWIDTH_PICO_PER_BYTE * 10**9), "gb_bytes": 10**9},
        "prices": [
            {
                "category": category.value,
                "usd_per_call": usd(PER_CALL_PICO[category]),
                "plans": [p.value for p, t in PLANS.items() if _allows(t, category)],
                "description": DESCRIPTIONS[category],
            }
            for category in Category
        ],
        "plans": [
            {
                "plan": plan.value,
                "price": terms.price,
                "daily_requests_per_key": terms.daily_requests,
                "features": sorted(terms.features),
                "description": terms.description,
            }
            for plan, terms in PLANS.items()
        ],
    }


def _allows(terms: PlanTerms, category: Category) -> bool:
    feature = FEATURE_OF.get(category)
    return feature is None or feature in terms.features
