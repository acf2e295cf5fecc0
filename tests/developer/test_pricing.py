"""The price table and money arithmetic the meter and GET /v1/pricing share."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gossip.developer import pricing
from gossip.developer.pricing import Category


def test_prices_are_the_issues() -> None:
    as_usd = {c: Decimal(pricing.usd(p)) for c, p in pricing.PER_CALL_PICO.items()}
    assert as_usd == {
        Category.READ: Decimal(0),
        Category.WRITE: Decimal("0.00002"),
        Category.OTP: Decimal("0.0001"),
        Category.PROMO: Decimal("0.01"),
        Category.AI_MODERATE: Decimal("0.002"),
        Category.AI_GENERATE: Decimal("0.01"),
    }
    # $0.10 per 10^9 bytes.
    assert pricing.cost_pico(Category.READ, 10**9, succeeded=True) == pricing.PICO_PER_USD // 10


@pytest.mark.parametrize(
    ("pico", "text"),
    [
        (0, "0"),
        (100, "0.0000000001"),
        (20_000_000, "0.00002"),
        (10**12, "1"),
        (1234 * 10**12, "1234"),
    ],
)
def test_usd_is_exact_and_plain(pico: int, text: str) -> None:
    assert pricing.usd(pico) == text
    assert Decimal(text) * pricing.PICO_PER_USD == pico


def test_the_per_call_price_only_when_the_call_succeeded() -> None:
    assert pricing.cost_pico(Category.PROMO, 10, succeeded=False) == 1000
    assert pricing.cost_pico(Category.PROMO, 10, succeeded=True) == 10**10 + 1000


def test_daily_limits_and_features() -> None:
    assert pricing.daily_limit("free", None) == 100
    assert pricing.daily_limit("pro", 5) == 100_000  # only scale takes a custom limit
    assert pricing.daily_limit("scale", 7) == 7
    assert pricing.daily_limit("scale", None) == 100_000
    assert pricing.daily_limit("bogus", None) == 100
    assert not pricing.has_feature("free", "export") and pricing.has_feature("pro", "export")
    assert not pricing.has_feature("bogus", "reads")


def test_table_lists_every_category_and_plan() -> None:
    table = pricing.table()
    assert [p["category"] for p in table["prices"]] == [c.value for c in Category]
    promo = next(p for p in table["prices"] if p["category"] == "promo")
    assert promo["plans"] == ["pro", "scale"]
    read = next(p for p in table["prices"] if p["category"] == "read")
    assert read["plans"] == ["free", "pro", "scale"]
