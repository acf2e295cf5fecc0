"""Engines and sessions.

SQLite allows one writer at a time. Rather than let concurrent transactions collide and
sleep in SQLite's busy handler (whose back-off adds tens of milliseconds), each process
keeps exactly one writer connection: its pool is the queue of writers, and every write
transaction starts with BEGIN IMMEDIATE so it never has to upgrade a read lock. Readers use
their own pool and, thanks to WAL, never wait for the writer. On PostgreSQL readers and
writers share one ordinary pool.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gossip.db import sqlite_driver

_DATABASE = "gossip.database"


class WriteSession(AsyncSession):
    """A write session whose commit runs the database's commit hooks: before, in the
    transaction (the webhook outbox stages its rows there, so they commit with the change
    that caused them); after, once it is durable. Every adapter's commit goes through
    here, so no surface can forget them."""

    async def commit(self) -> None:
        database: Database | None = self.info.get(_DATABASE)
        if database is None:
            await super().commit()
            return
        for before in database.before_commit:
            await before(self)
        await super().commit()
        for after in database.after_commit:
            after(self)


@dataclass
class Database:
    url: str
    reader: AsyncEngine
    writer: AsyncEngine
    read_session: async_sessionmaker[AsyncSession]
    write_session: async_sessionmaker[AsyncSession]
    before_commit: list[Callable[[AsyncSession], Awaitable[None]]] = field(default_factory=list)
    after_commit: list[Callable[[AsyncSession], None]] = field(default_factory=list)

    @property
    def is_sqlite(self) -> bool:
        return self.reader.dialect.name == "sqlite"

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_engine(url: str, *, begin: str, pool_size: int, synchronous: str) -> AsyncEngine:
    parsed = make_url(url)
    connect_args, connect_kwargs = parsed.get_dialect()().create_connect_args(parsed)

    async def one_trip_connection() -> sqlite_driver.OneTripConnection:
        # Each statement is one hand-off to the connection's thread (db/sqlite_driver.py).
        return await sqlite_driver.connect(*connect_args, **connect_kwargs)

    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
        async_creator=one_trip_connection,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so we can say IMMEDIATE (see module doc).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Sent with the transaction's first statement, in the same trip to the driver's
        # thread (db/sqlite_driver.py).
        conn.connection.driver_connection.defer_begin(begin)

    return engine


# A pooled PostgreSQL connection is pinged before use only once it has sat idle this long.
# A ping per checkout (pool_pre_ping) is a round trip on every request, ~4% of a read's or
# a search's server time (docs/performance.md); a connection used a moment ago is almost
# surely alive, and if the server did restart meanwhile, the first statement's disconnect
# error makes SQLAlchemy invalidate every connection of the pool at once, so only the
# requests then in flight fail, as they would have during the restart anyway.
PING_AFTER_IDLE_S = 5.0


def _postgres_engine(url: str, *, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (up to three tries).
            raise exc.DisconnectionError() from error

    return engine


def connect(url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 10) -> Database:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        writer = _sqlite_engine(
            url, begin="BEGIN IMMEDIATE", pool_size=1, synchronous=sqlite_synchronous
        )
        reader = _sqlite_engine(
            url, begin="BEGIN", pool_size=pool_size, synchronous=sqlite_synchronous
        )
    else:
        writer = reader = _postgres_engine(url, pool_size=pool_size)
    info: dict[str, Any] = {}
    database = Database(
        url=url,
        reader=reader,
        writer=writer,
        read_session=async_sessionmaker(reader, expire_on_commit=False, autoflush=False),
        write_session=async_sessionmaker(
            writer, class_=WriteSession, expire_on_commit=False, autoflush=False, info=info
        ),
    )
    info[_DATABASE] = database
    return database
