"""Spec 004's rate limits: headers on limited routes, the 429 body, and one shared picture
across processes when Redis is configured."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import Live, error_code, live_server, redis_reachable

TIGHT = {"rate_limit_auth": "3/60", "rate_limit_general": "5/60", "rate_limit_auth_status": "4/60"}


@pytest.fixture
def tight(backend: str, tmp_path: Path) -> Iterator[Live]:
    with live_server(backend, tmp_path, **TIGHT) as server:
        yield server


def _register_body() -> dict[str, str]:
    name = f"r{uuid.uuid4().hex[:10]}"
    return {"username": name, "email": f"{name}@example.com", "password": "long enough pw"}


class TestAuthLimit:
    def test_per_ip_limit_with_headers_and_429_body(self, tight: Live) -> None:
        for remaining in (2, 1, 0):
            response = tight.post("/api/auth/register", json=_register_body())
            assert response.status_code == 201
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Remaining"] == str(remaining)
            assert response.headers["X-RateLimit-Bucket"] == "auth"
            assert int(response.headers["X-RateLimit-Reset"]) > 1_600_000_000
        refused = tight.post("/api/auth/register", json=_register_body())
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "RATE_LIMITED"
        assert error["message"] == "You are being rate limited."
        assert 0 < error["retryAfter"] <= 60_000
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Login shares the bucket: the same IP is refused there too.
        login = tight.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
        assert login.status_code == 429


class TestGeneralLimit:
    def test_per_user(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, rate_limit_general="5/60") as server:
            alice, bob = server.register(), server.register()
            statuses = [server.get("/api/users/me", alice).status_code for _ in range(6)]
            assert statuses == [200] * 5 + [429]
            assert error_code(server.get("/api/users/me", alice)) == "RATE_LIMITED"
            # Bob has his own budget.
            assert server.get("/api/users/me", bob).status_code == 200


class TestDisabled:
    def test_no_limit_and_no_headers(self, backend: str, tmp_path: Path) -> None:
        with live_server(backend, tmp_path, rate_limits=False, rate_limit_auth="1/60") as server:
            for _ in range(3):
                response = server.post("/api/auth/register", json=_register_body())
                assert response.status_code == 201
                assert "X-RateLimit-Limit" not in response.headers


class TestSharedAcrossProcesses:
    def test_two_servers_share_one_redis_budget(self, backend: str, tmp_path: Path) -> None:
        if why := redis_reachable():
            pytest.skip(why)
        from tests.live import REDIS_URL

        shared = {
            "redis_url": REDIS_URL,
            "redis_prefix": f"gossip-test-{uuid.uuid4().hex}:",
            "rate_limit_auth": "4/60",
        }
        with contextlib.ExitStack() as stack:
            one = stack.enter_context(live_server(backend, tmp_path / "one", **shared))
            two = stack.enter_context(live_server(backend, tmp_path / "two", **shared))
            statuses = [
                server.post("/api/auth/register", json=_register_body()).status_code
                for server in (one, two, one, two, one, two)
            ]
            assert statuses == [201, 201, 201, 201, 429, 429]
