"""A server whose webhooks may call 127.0.0.1 and retry fast, and a local receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hooks.receiver import Receiver, running
from tests.live import Live, live_server

FAST_HOOKS = {
    "webhook_allow_private": True,
    "webhook_retry_schedule": "0.2,0.2,0.2",
    "webhook_poll_interval": 0.05,
    "webhook_timeout": 2.0,
}


@pytest.fixture(scope="module")
def hooked(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp(f"hooks-{backend}")
    with live_server(backend, tmp, **FAST_HOOKS) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running() as found:
        yield found
