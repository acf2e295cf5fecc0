"""A server with spec 002's DM chat switched on, once per backend (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import Live, live_server

# Tests create many accounts from one address; the limit itself has its own test.
NO_LOGIN_LIMIT = {"rate_limit_legacy_login": "100000/900"}


@pytest.fixture(scope="session")
def legacy(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp(f"legacy-{backend}")
    with live_server(backend, tmp, legacy_dm=True, **NO_LOGIN_LIMIT) as server:
        yield server
