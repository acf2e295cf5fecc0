"""Every test that takes `live` runs once against SQLite and once against PostgreSQL.

The PostgreSQL run is skipped only when no server is reachable (CI here always has one),
and the skip says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import Live, live_server, postgres_reachable

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and (why := postgres_reachable()):
        pytest.skip(why)
    return str(request.param)


@pytest.fixture(scope="session")
def live(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp(f"live-{backend}")
    with live_server(backend, tmp) as server:
        yield server
