"""The daily cap, plans (402 on Free), metered cost, usage, and the test-mode sandbox.

A server of this module's own, with an admin key (plans are set by an administrator) and
two /v1 routes of the tests' own that write through the real dependencies: a write (priced
and admitted up front) and a promo-priced call (Pro only). They stand in for the later /v1
write endpoints so the up-front path is exercised here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from gossip.developer.pricing import Category
from gossip.surfaces.v1.deps import ApiKey, Writer, charge, require_feature
from gossip.surfaces.v1.render import JSON
from tests.live import Live, User, live_server
from tests.surfaces.v1.keys import bearer, error_type, new_key, v1

ADMIN_KEY = "an admin key of the operator's, long enough"


def _test_routes(app: FastAPI) -> None:
    router = APIRouter(prefix="/v1/_tests")

    @router.post("/write")
    async def write(key: ApiKey, session: Writer) -> JSON:
        return JSON({"ok": True, "user": str(key.user_id)})

    @router.post("/promo", dependencies=[Depends(charge(Category.PROMO))])
    async def promo(key: ApiKey) -> JSON:
        return JSON({"ok": True})

    @router.get("/analytics", dependencies=[Depends(require_feature("analytics"))])
    async def analytics(key: ApiKey) -> JSON:
        return JSON({"ok": True})

    app.include_router(router)


@pytest.fixture(scope="module")
def dev(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp(f"developer-{backend}")
    with live_server(
        backend, tmp, prepare=_test_routes, admin_key=ADMIN_KEY, rate_limit_admin="10000/900"
    ) as server:
        yield server


def set_plan(live: Live, user: User, plan: str, limit: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"plan": plan}
    if limit is not None:
        body["dailyLimit"] = limit
    answer = live.put(
        f"/api/admin/users/{user.id}/plan", json=body, headers={"X-Admin-Key": ADMIN_KEY}
    )
    data: dict[str, Any] = live.data(answer)
    return data


def cost(response: httpx.Response) -> Decimal:
    return Decimal(response.headers["X-Gossip-Cost-Usd"])


def today_usage(live: Live, secret: str) -> dict[str, Any]:
    report = v1(live, "GET", "/usage", secret)
    assert report.status_code == 200, report.text
    items = report.json()["items"]
    day = datetime.now(UTC).date().isoformat()
    found = [item for item in items if item["date"] == day]
    return found[0] if found else {"requests": 0, "bytes": 0, "cost_usd": "0", "categories": {}}


class TestHeaders:
    def test_every_response_carries_cost_and_limits(self, dev: Live) -> None:
        user = dev.register()
        secret = new_key(dev, user)["secret"]
        response = v1(dev, "GET", f"/profiles/{user.username}", secret)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "100"
        assert response.headers["X-RateLimit-Remaining"] == "99"
        reset = int(response.headers["X-RateLimit-Reset"])
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert reset == int((midnight + timedelta(days=1)).timestamp() * 1000)
        assert "X-RateLimit-Retry-After" not in response.headers
        # A live read: bandwidth only, $0.10 per 10^9 bytes of body.
        assert cost(response) == Decimal(len(response.content)) / Decimal(10**10)
        missing = v1(dev, "GET", "/profiles/nobody-at-all", secret)
        assert missing.status_code == 404 and error_type(missing) == "not_found"
        assert missing.headers["X-RateLimit-Remaining"] == "98"
        assert cost(missing) == Decimal(len(missing.content)) / Decimal(10**10)

    def test_pricing_is_the_meters_table(self, dev: Live) -> None:
        secret = new_key(dev, dev.register())["secret"]
        table = v1(dev, "GET", "/pricing", secret).json()
        prices = {p["category"]: Decimal(p["usd_per_call"]) for p in table["prices"]}
        assert prices == {
            "read": Decimal(0),
            "write": Decimal("0.00002"),
            "otp": Decimal("0.0001"),
            "promo": Decimal("0.01"),
            "ai_moderate": Decimal("0.002"),
            "ai_generate": Decimal("0.01"),
        }
        assert Decimal(table["bandwidth"]["usd_per_gb"]) == Decimal("0.1")
        plans = {p["plan"]: p["daily_requests_per_key"] for p in table["plans"]}
        assert plans == {"free": 100, "pro": 100_000, "scale": None}
        # The write route charges what the table says, plus its bandwidth.
        written = v1(dev, "POST", "/_tests/write", secret)
        assert written.status_code == 200, written.text
        assert cost(written) == prices["write"] + Decimal(len(written.content)) / 10**10

    def test_bad_query_is_invalid_request(self, dev: Live) -> None:
        secret = new_key(dev, dev.register())["secret"]
        for params in ({"limit": 0}, {"limit": 101}, {"cursor": "!!"}, {"cursor": "bm9wZQ"}):
            response = v1(dev, "GET", "/usage", secret, params=params)
            assert response.status_code == 400, (params, response.text)
            assert error_type(response) == "invalid_request"
        unknown = v1(dev, "GET", "/no-such-thing", secret)
        assert unknown.status_code == 404 and error_type(unknown) == "not_found"


class TestPlans:
    def test_pro_only_is_402_on_free_then_works_on_pro(self, dev: Live) -> None:
        user = dev.register()
        secret = new_key(dev, user)["secret"]
        for method, path, params in (
            ("GET", "/usage", {"format": "csv"}),
            ("POST", "/_tests/promo", None),
            ("GET", "/_tests/analytics", None),
        ):
            refused = v1(dev, method, path, secret, params=params)
            assert refused.status_code == 402, refused.text
            assert error_type(refused) == "payment_required"
        assert set_plan(dev, user, "pro") == {
            "userId": user.id,
            "plan": "pro",
            "dailyLimit": 100_000,
        }
        assert v1(dev, "GET", "/_tests/analytics", secret).status_code == 200
        promo = v1(dev, "POST", "/_tests/promo", secret)
        assert promo.status_code == 200 and promo.headers["X-RateLimit-Limit"] == "100000"
        assert cost(promo) == Decimal("0.01") + Decimal(len(promo.content)) / 10**10
        csv = v1(dev, "GET", "/usage", secret, params={"format": "csv"})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.strip().splitlines()
        assert lines[0] == "date,category,requests,bytes,cost_usd"
        day = datetime.now(UTC).date().isoformat()
        assert any(line.startswith(f"{day},promo,1,") for line in lines[1:]), lines

    def test_admin_plan_checks(self, dev: Live) -> None:
        user = dev.register()
        for body in (
            {"plan": "gold"},
            {"plan": "scale"},
            {"plan": "pro", "dailyLimit": 5},
            {"plan": "scale", "dailyLimit": 0},
        ):
            answer = dev.put(
                f"/api/admin/users/{user.id}/plan", json=body, headers={"X-Admin-Key": ADMIN_KEY}
            )
            assert answer.status_code == 400, (body, answer.text)
        assert (
            dev.put(f"/api/admin/users/{user.id}/plan", user, json={"plan": "pro"}).status_code
            == 403
        )
        missing = dev.put(
            "/api/admin/users/12345/plan", json={"plan": "pro"}, headers={"X-Admin-Key": ADMIN_KEY}
        )
        assert missing.status_code == 404


def _burst(url: str, requests: list[tuple[str, str, str]]) -> list[httpx.Response]:
    """Sends every request at once (one connection each) and returns the answers."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests))
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(client.request(m, p, headers=bearer(s)) for m, p, s in requests)
            )

    return asyncio.run(run())


class TestDailyCap:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_cap_admits_exactly_n_of_100_concurrent(self, dev: Live, method: str) -> None:
        user = dev.register()
        cap = 37
        set_plan(dev, user, "scale", cap)
        secret = new_key(dev, user)["secret"]
        path = f"/v1/profiles/{user.username}" if method == "GET" else "/v1/_tests/write"
        answers = _burst(dev.url, [(method, path, secret)] * 100)
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(200) == cap and statuses.count(429) == 100 - cap, statuses
        remaining = sorted(
            int(a.headers["X-RateLimit-Remaining"]) for a in answers if a.status_code == 200
        )
        assert remaining == list(range(cap))  # every admitted request saw its own count
        refused = next(a for a in answers if a.status_code == 429)
        assert error_type(refused) == "rate_limited"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        retry = int(refused.headers["X-RateLimit-Retry-After"])
        reset = int(refused.headers["X-RateLimit-Reset"])
        assert 0 < retry <= 86_400_000 and abs(reset - (time.time() * 1000 + retry)) < 5_000
        assert refused.headers["X-Gossip-Cost-Usd"] == "0"
        # Only admitted requests are recorded (a refusal costs nothing).
        set_plan(dev, user, "scale", cap + 1)  # room for the report itself
        assert today_usage(dev, secret)["requests"] == cap

    def test_a_full_day_stays_full_until_the_cap_is_raised(self, dev: Live) -> None:
        # Once a day is full, a process refuses further requests without a write
        # (developer/batching.py); a higher cap must admit again at once, from the count
        # the database holds (refusals did not add to it).
        user = dev.register()
        set_plan(dev, user, "scale", 3)
        secret = new_key(dev, user)["secret"]
        statuses = [v1(dev, "GET", "/pricing", secret).status_code for _ in range(6)]
        assert statuses == [200, 200, 200, 429, 429, 429]
        set_plan(dev, user, "scale", 5)
        answers = [v1(dev, "GET", "/pricing", secret) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
        set_plan(dev, user, "scale", 6)  # room for the report itself
        assert today_usage(dev, secret)["requests"] == 5

    def test_revoking_keys_and_other_keys_have_their_own_caps(self, dev: Live) -> None:
        user = dev.register()
        set_plan(dev, user, "scale", 2)
        first, second = new_key(dev, user)["secret"], new_key(dev, user)["secret"]
        for _ in range(2):
            assert v1(dev, "GET", "/pricing", first).status_code == 200
        assert v1(dev, "GET", "/pricing", first).status_code == 429
        assert v1(dev, "GET", "/pricing", second).status_code == 200


class TestCostAndUsage:
    def test_cost_headers_sum_to_the_usage_report(self, dev: Live) -> None:
        user = dev.register()
        set_plan(dev, user, "pro")
        secret = new_key(dev, user)["secret"]
        other_key = new_key(dev, user)["secret"]  # the account's report covers every key
        answers = []
        for _ in range(3):
            answers.append(v1(dev, "GET", f"/profiles/{user.username}", secret))
            answers.append(v1(dev, "GET", "/pricing", other_key))
            answers.append(v1(dev, "GET", "/profiles/nobody-at-all", secret))
            answers.append(v1(dev, "POST", "/_tests/write", secret))
            answers.append(v1(dev, "POST", "/_tests/promo", other_key))
        answers.append(v1(dev, "GET", "/usage", secret))
        unauthenticated = v1(dev, "GET", "/pricing", None)
        assert unauthenticated.headers["X-Gossip-Cost-Usd"] == "0"
        total = sum((cost(a) for a in answers), Decimal(0))
        day = today_usage(dev, secret)
        assert Decimal(day["cost_usd"]) == total
        assert day["requests"] == len(answers)
        assert day["bytes"] == sum(len(a.content) for a in answers)
        categories = day["categories"]
        assert categories["read"]["requests"] == 10
        assert categories["write"]["requests"] == 3
        assert categories["promo"]["requests"] == 3
        for name, figures in categories.items():
            picked = [a for a in answers if _category(a) == name]
            assert Decimal(figures["cost_usd"]) == sum((cost(a) for a in picked), Decimal(0))
        # Another account's usage is its own.
        stranger = new_key(dev, dev.register())["secret"]
        assert today_usage(dev, stranger)["requests"] == 0

    def test_usage_pages(self, dev: Live) -> None:
        secret = new_key(dev, dev.register())["secret"]
        v1(dev, "GET", "/pricing", secret)
        first = v1(dev, "GET", "/usage", secret, params={"limit": 1}).json()
        assert len(first["items"]) == 1 and first["next_cursor"] is None
        assert first["mode"] == "live" and first["plan"] == "free" and first["daily_limit"] == 100


def _category(response: httpx.Response) -> str:
    path = response.request.url.path
    if path.endswith("/_tests/write"):
        return "write"
    if path.endswith("/_tests/promo"):
        return "promo"
    return "read"


class TestSandbox:
    def test_test_keys_never_see_live_data(self, dev: Live) -> None:
        user = dev.register()
        live_key = new_key(dev, user, "live")["secret"]
        test_key = new_key(dev, user, "test")["secret"]
        own = v1(dev, "GET", f"/profiles/{user.username}", test_key)
        assert own.status_code == 404 and error_type(own) == "not_found"
        sample = v1(dev, "GET", "/profiles/mohan", test_key)
        assert sample.status_code == 200
        body = sample.json()
        assert body["username"] == "mohan" and body["sandbox"] is True
        assert body == v1(dev, "GET", "/profiles/MOHAN", test_key).json()  # deterministic
        assert (
            body
            == v1(
                dev, "GET", "/profiles/mohan", new_key(dev, dev.register(), "test")["secret"]
            ).json()
        )
        assert v1(dev, "GET", "/profiles/mohan", live_key).status_code == 404
        real = v1(dev, "GET", f"/profiles/{user.username}", live_key).json()
        assert real["sandbox"] is False and real["id"] == f"p_{user.id}"

    def test_test_mode_never_counts_as_spend(self, dev: Live) -> None:
        user = dev.register()
        set_plan(dev, user, "pro")
        test_key = new_key(dev, user, "test")["secret"]
        live_key = new_key(dev, user, "live")["secret"]
        answers = [
            v1(dev, "GET", "/profiles/mohan", test_key),
            v1(dev, "POST", "/_tests/write", test_key),
            v1(dev, "POST", "/_tests/promo", test_key),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert all(a.headers["X-Gossip-Cost-Usd"] == "0" for a in answers)
        sandbox_day = today_usage(dev, test_key)
        assert sandbox_day["requests"] == 3 and sandbox_day["cost_usd"] == "0"
        assert today_usage(dev, live_key)["requests"] == 0  # live usage: nothing spent
