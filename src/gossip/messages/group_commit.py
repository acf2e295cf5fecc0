"""Group commit of plain message sends on SQLite's single writer (issue 2).

Each process has one SQLite write connection (db/engine.py), so concurrent sends queue
for it anyway. Through the ordinary path each send is its own transaction: a write
session, five statements through SQLAlchemy's execution layer, each a trip to the
connection's thread and back, then a commit. Here the sends that arrive while a batch is
being written wait together and go as the next batch: one `BEGIN IMMEDIATE … COMMIT`
(each a trip to the writer's thread), and per send the same statements as the ordinary
path (repositories' `*_sqlite` twins of the same Core statements) run with sqlite3
directly, from the event loop (`GroupCommit._run_batch` says why).

What stays exactly as in `service.do_send_message`:

- the decision: the grant statement runs *inside* the batch's write transaction and
  `access.grant_from_rows` decides from it, so a role, overwrite or membership change
  committed by any process before the batch began is seen, with no cache to invalidate;
  then `service.check_send`, the same checks in the same order;
- the row (same INSERT and channel bump, same values), the answer and the MESSAGE_CREATE
  event (built from the stored values by `MessageView`, as there);
- durability: a send's future resolves only after the COMMIT that holds its row, and the
  batch's events go to the bus after it, in commit order, while the writer is still held.

What it does not do, answering `None` so the caller takes the ordinary path: threads
(posting may reopen or join one: ORM work), DMs (their audience is a query of its own),
and anything the caller already kept away (mentions, embeds, attachments, webhook
subscribers: see surfaces/chirp/send_path.py).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from gossip.access.repository import grant_rows_sqlite
from gossip.access.service import ChannelGrant, grant_from_rows
from gossip.auth.subject import Actor
from gossip.bus import Bus
from gossip.db import sqlite_driver
from gossip.db.engine import Database
from gossip.events import Audience, Event
from gossip.kit import ids
from gossip.kit.errors import GossipError
from gossip.messages.repository import NewMessage, add_sqlite
from gossip.messages.service import MessageView, check_send
from gossip.threads import is_thread
from gossip.users.repository import UserBrief, brief_sqlite

log = logging.getLogger("gossip.messages.group_commit")

# A batch is one transaction; bounding it bounds how long the first send in it waits, and
# how long its statements hold the event loop (about 0.1 ms a send: ~6 ms at most).
MAX_BATCH = 64


@dataclass(slots=True)
class _Send:
    actor: Actor
    channel_id: int
    content: str
    tts: bool
    future: asyncio.Future[dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class _Stored:
    message: NewMessage
    server_id: int
    author: UserBrief | None


# What the writer's thread reports for one send: stored, refused, or not for this path.
_Outcome = _Stored | GossipError | None | Exception


class GroupCommit:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus
        self._waiting: list[_Send] = []
        self._writing: asyncio.Task[None] | None = None
        # Transactions written and the most sends one held (for tests and operators).
        self.batches = 0
        self.largest_batch = 0
        self.retried = 0  # batches that failed and went again, one send at a time

    async def send(
        self, actor: Actor, channel_id: int, content: str, tts: bool
    ) -> dict[str, Any] | None:
        """The new message's payload once its row is committed; None if the ordinary
        path must serve this send; raises the GossipError it is refused with."""
        if "@" in content:
            return None  # mentions (users, roles, @everyone) are resolved there
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Send(actor, channel_id, content, tts, future))
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        # No await between the last check of `_waiting` and clearing `_writing`, so a send
        # queued meanwhile always finds a writer that will take it.
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                self.batches += 1
                self.largest_batch = max(self.largest_batch, len(batch))
                await self._write(batch)
        finally:
            self._writing = None

    async def _write(self, batch: list[_Send]) -> None:
        try:
            # The pool's one writer connection: ordinary write sessions queue with us.
            async with self._db.writer.connect() as connection:
                raw = await connection.get_raw_connection()
                outcomes = await self._run_batch(raw.driver_connection, batch)
                events: list[Event] = []
                answers: list[dict[str, Any] | Exception | None] = []
                for outcome in outcomes:
                    if isinstance(outcome, _Stored):
                        # The REST shape and the event's are the same for a new message
                        # (no reactions yet); nothing that receives an event changes it.
                        users = (
                            {} if outcome.author is None else {outcome.author.id: outcome.author}
                        )
                        data = MessageView(outcome.message, users).payload()
                        where = Audience(
                            server_id=outcome.server_id, channel_id=outcome.message.channel_id
                        )
                        events.append(Event("MESSAGE_CREATE", data, where))
                        answers.append(data)
                    else:
                        answers.append(outcome)
                # Committed; still holding the writer, so events leave in commit order.
                self._bus.publish(events)
        except Exception as error:  # the connection or the thread failed: nobody's row is in
            answers = [error] * len(batch)
        for item, answer in zip(batch, answers, strict=True):
            if item.future.done():  # the request was cancelled (client gone)
                continue
            if isinstance(answer, Exception):
                item.future.set_exception(answer)
            else:
                item.future.set_result(answer)

    async def _run_batch(self, driver: Any, batch: list[_Send]) -> list[_Outcome]:
        """Writes a batch: BEGIN and COMMIT on the connection's thread, the statements between
        them on the event loop's.

        The statements of a send take ~0.1 ms, mostly sqlite3's C code, which gives the GIL
        back while it steps. Run on the writer's thread, every statement handed the GIL back
        and forth with the event loop, which was busy answering the previous batch: the two
        threads' Python ran one after the other anyway, plus the hand-overs (sends/s 0.22 of
        the baseline against 0.25 inline, docs/performance.md). So the statements run here,
        holding the loop for a batch's worth of them (at most `MAX_BATCH`; ~3 ms for the 32
        a batch holds under heavy load). What may wait longer stays on the thread: BEGIN
        IMMEDIATE waits in the busy handler while another process writes, and COMMIT may run
        a WAL checkpoint, whose fsync must not stop the loop. The pool checkout (`_write`)
        makes the connection ours alone, so nothing runs on its thread meanwhile."""
        conn = sqlite_driver.sqlite3_of(driver)
        await sqlite_driver.call(driver, _begin)
        try:
            outcomes = _statements(conn, batch)
            await sqlite_driver.call(driver, _commit)
            return outcomes
        except sqlite3.Error:
            if conn.in_transaction:
                await sqlite_driver.call(driver, _rollback)
            log.warning("a batch of %d sends failed; retrying on the thread", len(batch))
            self.retried += 1
        except BaseException:
            if conn.in_transaction:
                await sqlite_driver.call(driver, _rollback)
            raise
        # Nothing of the batch is in: the thread's path, which isolates a send that fails.
        return await sqlite_driver.call(driver, _write_batch, batch)


# --- on the writer's thread ---------------------------------------------------------------


def _begin(conn: sqlite3.Connection) -> None:
    # IMMEDIATE, as every write transaction here (db/engine.py): the write lock now, so
    # another process's writer waits in the busy handler instead of failing an upgrade.
    conn.execute("BEGIN IMMEDIATE")


def _commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def _rollback(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")


def _write_batch(conn: sqlite3.Connection, batch: list[_Send]) -> list[_Outcome]:
    try:
        return _transaction(conn, batch)
    except sqlite3.Error:
        if len(batch) == 1:
            raise
        log.warning(
            "a batch of %d sends failed; writing them one by one", len(batch), exc_info=True
        )
    # Whatever failed must fail its own send only.
    outcomes: list[_Outcome] = []
    for item in batch:
        try:
            outcomes += _transaction(conn, [item])
        except sqlite3.Error as error:
            outcomes.append(error)
    return outcomes


def _transaction(conn: sqlite3.Connection, batch: list[_Send]) -> list[_Outcome]:
    _begin(conn)
    try:
        outcomes = _statements(conn, batch)
        _commit(conn)
    except BaseException:
        if conn.in_transaction:
            _rollback(conn)
        raise
    return outcomes


def _statements(conn: sqlite3.Connection, batch: list[_Send]) -> list[_Outcome]:
    """Each send's statements, inside the batch's transaction (on whichever thread)."""
    # Within the transaction nothing else writes, and sends change no permission.
    grants: dict[tuple[int, int], ChannelGrant | GossipError] = {}
    authors: dict[int, UserBrief | None] = {}
    return [_one(conn, item, grants, authors) for item in batch]


def _one(
    conn: sqlite3.Connection,
    item: _Send,
    grants: dict[tuple[int, int], ChannelGrant | GossipError],
    authors: dict[int, UserBrief | None],
) -> _Outcome:
    user_id = item.actor.user_id
    key = (item.channel_id, user_id)
    if key not in grants:
        try:
            grants[key] = grant_from_rows(grant_rows_sqlite(conn, *key), user_id)
        except GossipError as refused:
            grants[key] = refused
    found = grants[key]
    if isinstance(found, GossipError):
        return found
    if found.server_id is None or is_thread(found):
        return None  # a DM or a thread: the ordinary path
    try:
        check_send(found, item.content, tts=item.tts)
    except GossipError as refused:
        return refused
    if user_id not in authors:
        authors[user_id] = brief_sqlite(conn, user_id)
    message = NewMessage(
        id=ids.new_id(),
        channel_id=found.channel_id,
        author_id=user_id,
        content=item.content,
        tts=item.tts,
    )
    add_sqlite(conn, message)
    return _Stored(message, found.server_id, authors[user_id])
