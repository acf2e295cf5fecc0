"""The PostgreSQL pool pings a connection only after it sat idle (db/engine.py), and a
connection the server dropped is replaced, not handed to a request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gossip.db import engine as db_engine
from tests.live import POSTGRES_ADMIN_URL, postgres_database, postgres_reachable


@pytest.fixture
def postgres_url() -> Iterator[str]:
    why = postgres_reachable()
    if why:
        pytest.skip(why)
    with postgres_database() as url:
        yield url


async def _backend_pid(database: db_engine.Database) -> int:
    async with database.reader.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


def test_an_idle_connection_the_server_dropped_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_S", 0.0)

    async def run() -> None:
        database = db_engine.connect(postgres_url, pool_size=1)
        try:
            first = await _backend_pid(database)
            await _terminate(first)
            await asyncio.sleep(0.05)
            # Idle past the threshold: pinged, found dead, replaced before use.
            assert await _backend_pid(database) != first
        finally:
            await database.dispose()

    asyncio.run(run())


def test_a_connection_used_a_moment_ago_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_S", 3600.0)

    async def run() -> None:
        database = db_engine.connect(postgres_url, pool_size=1)
        try:
            first = await _backend_pid(database)
            await _terminate(first)
            await asyncio.sleep(0.05)
            # Not pinged: the dead connection's first statement fails; SQLAlchemy then
            # drops it, and the next checkout gets a new one.
            with pytest.raises(DBAPIError):
                await _backend_pid(database)
            assert await _backend_pid(database) != first
        finally:
            with contextlib.suppress(Exception):
                await database.dispose()

    asyncio.run(run())
