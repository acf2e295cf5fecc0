"""aiosqlite with one trip to the connection's thread per statement.

aiosqlite runs each call on the connection's own thread and hands the result back to the
event loop. Through SQLAlchemy's adapter a statement costs four such trips (open a cursor,
execute, fetch the rows, close), and each trip wakes the event loop: on a message send
that was most of the ~36 hand-offs. SQLAlchemy already reads every row of a (non-streamed)
result at once, so doing the four steps in one function on the thread changes nothing but
the count. Only the cursor changes; transactions, commit, rollback and closing are
aiosqlite's own.

Two more trips are saved per transaction. The BEGIN the engine asks for (db/engine.py) is
deferred and sent in the same trip as the transaction's first statement. And a commit or
rollback with no transaction open (the pool's rollback when a committed connection comes
back, a session that ran nothing) has nothing to end, so it makes no trip; whether one is
open is read from the connection itself (`sqlite3.Connection.in_transaction`), never
assumed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

_Result = tuple[Any, int, int | None, list[Any]]
T = TypeVar("T")


def _run(conn: sqlite3.Connection, begin: str | None, sql: str, parameters: Any) -> _Result:
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(
    conn: sqlite3.Connection, begin: str | None, sql: str, seq_of_parameters: Any
) -> _Result:
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        cursor.executemany(sql, seq_of_parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class BufferedCursor:
    """The async cursor SQLAlchemy's aiosqlite adapter expects, holding a whole result."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> BufferedCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _keep(self, result: _Result) -> BufferedCursor:
        self.description, self.rowcount, self.lastrowid, self._rows = result
        return self

    async def execute(self, sql: str, parameters: Any = None) -> BufferedCursor:
        connection = self._connection
        begin = connection.take_begin()
        return self._keep(await connection._execute(_run, connection._conn, begin, sql, parameters))

    async def executemany(self, sql: str, seq_of_parameters: Any) -> BufferedCursor:
        connection = self._connection
        begin = connection.take_begin()
        return self._keep(
            await connection._execute(_run_many, connection._conn, begin, sql, seq_of_parameters)
        )

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_: object) -> None:
        return None

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    _begin: str | None = None

    def cursor(self) -> BufferedCursor:  # type: ignore[override]
        return BufferedCursor(self)

    def defer_begin(self, sql: str) -> None:
        """Starts a transaction with `sql` (BEGIN IMMEDIATE, say) on the next statement."""
        self._begin = sql

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    async def commit(self) -> None:
        # Only one call runs on a connection at a time (SQLAlchemy awaits each), so the
        # flag read here is not moving under us.
        if self.take_begin() is None and self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.take_begin() is None and self._conn.in_transaction:
            await super().rollback()


async def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """Like aiosqlite.connect, with the one-trip cursor."""

    def connector() -> sqlite3.Connection:
        # The group commit runs statements from the event loop's thread between a BEGIN
        # and a COMMIT on this one (messages/group_commit.py), while it has the connection
        # checked out of the pool, so never at the same time as this thread.
        return sqlite3.connect(database, **{**kwargs, "check_same_thread": False})

    connection = OneTripConnection(connector, 64)
    # As SQLAlchemy does for aiosqlite: the thread must not keep the process alive.
    connection._thread.daemon = True
    await connection
    return connection


def sqlite3_of(connection: Any) -> sqlite3.Connection:
    """The sqlite3 connection under an aiosqlite one, for statements run from the event
    loop while the caller holds it checked out of the pool (so its thread is idle: see
    `connect`)."""
    conn: sqlite3.Connection = connection._conn
    return conn


async def call(connection: Any, work: Callable[..., T], *args: Any) -> T:
    """Runs `work(sqlite3_connection, *args)` on the connection's thread: any number of
    statements for one hand-off (`connection`: an aiosqlite connection, such as a pooled
    connection's `driver_connection`)."""
    result: T = await connection._execute(work, connection._conn, *args)
    return result


# --- prebuilt statements run on sqlite3 directly ------------------------------------------

# Named parameters (`:name`), which sqlite3 takes from a dict; otherwise the dialect the
# engine uses, so the SQL text and the type conversions are the ones SQLAlchemy would send.
_NAMED = SQLiteDialect_aiosqlite(paramstyle="named")


class Prepared:
    """A Core statement as SQLite SQL text plus SQLAlchemy's own conversions of its
    parameters (JSON dumped, booleans as integers, …), for code that runs on the
    connection's thread with sqlite3 (messages/group_commit.py): the statement is defined
    once, in its repository, and both paths send the same SQL and the same values.
    sqlite3 keeps each connection's prepared statements by SQL text, so running one again
    does not parse it again."""

    def __init__(self, statement: Any, column_keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(
            dialect=_NAMED, column_keys=list(column_keys) if column_keys else None
        )
        self.sql = str(compiled)
        # Per bind name; SQLAlchemy's execution applies the same ones.
        self._convert: dict[str, Callable[[Any], Any]] = dict(compiled._bind_processors)
        # What each conversion makes of None, once: a new message's empty JSON lists are
        # None, and dumping them anew each time was a tenth of the group commit's work.
        self._none = {k: convert(None) for k, convert in self._convert.items()}

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        convert, none = self._convert, self._none
        return {
            k: (v if k not in convert else none[k] if v is None else convert[k](v))
            for k, v in values.items()
        }

    def run(self, conn: sqlite3.Connection, values: dict[str, Any]) -> list[Any]:
        return conn.execute(self.sql, self.params(values)).fetchall()
