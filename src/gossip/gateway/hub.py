"""The gateway hub of one process: its sessions, their subscriptions, and fan-out.

Every committed event reaches `on_event` through the bus (from this process or, with
Redis, from any). The hub works out which of its sessions may see it — DM participants,
members of the server, and for channel events only those whose permissions in that
channel include VIEW_CHANNEL right now — and pushes it into their sessions. Events are
handled one at a time in bus order, so a kick is applied before the next message in the
same server is routed.

Writes are the fan-out's cost: one system call per socket, about 12 µs here whatever the
size, against ~3 µs of Python per delivery (docs/performance.md). So a socket's dispatches
share writes where they can: all those of a run of events the bus already has in hand, and
those of events that come soon after a big fan-out. After a fan-out whose writes took `t`
(at least `PACE_FROM_S`), events for the next `PACE_FACTOR * t` (at most
`Limits.fanout_pace_s`) are held and then written together: the writes take at most about
half of the loop, so requests and new messages are not queued behind bursts of them.
Small fan-outs (most servers) are never held. A fan-out to more than `FLUSH_CHUNK` sockets
is written that many per turn of the loop, so it never holds the loop for long either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

import orjson

from gossip.bus import Bus
from gossip.db.engine import Database
from gossip.events import SESSION_REVOKED, Audience, Event, take
from gossip.gateway.presence import Presence
from gossip.gateway.protocol import Limits
from gossip.gateway.session import GatewaySession
from gossip.gateway.snapshot import ServerSnapshot
from gossip.gateway.wire import Dispatch
from gossip.kit.permissions import Overwrite, has

log = logging.getLogger("gossip.gateway")

# Fan-outs whose writes take less than this do not hold the next ones back.
PACE_FROM_S = 0.001
# After writes that took t, hold for PACE_FACTOR * t (within the limit): the writes then
# take at most 1 / (1 + PACE_FACTOR) of the loop. 2.0 showed no gain over 1.0 in the one
# run it had (docs/performance.md) and doubles the wait, so 1.0.
PACE_FACTOR = 1.0
# Sockets written per turn of the event loop. A fan-out to more is written in chunks, with
# the loop free between them: a thousand writes at once held it for 20 ms or more, and
# every request waiting on the database (a round trip to its thread per statement) waited
# that long per statement, so sends, and the events they make, came slower.
FLUSH_CHUNK = 128

# Events that never change who may see what; anything else scoped to a server drops its
# permission snapshot (roles, overwrites, channels, membership, ownership).
_PERMISSION_NEUTRAL_PREFIXES = (
    "MESSAGE_",
    "TYPING_",
    "PRESENCE_",
    "VOICE_",
    "THREAD_MEMBER",
    "WEBHOOKS_",
)
_JOINS = ("MEMBER_ADD", "SERVER_CREATE")
_LEAVES = ("MEMBER_REMOVE", "BAN_ADD")


def _overwrites_of(channel: dict[str, Any]) -> list[Overwrite]:
    found = []
    for raw in channel.get("permissionOverwrites") or ():
        try:
            found.append(
                Overwrite(int(raw["id"]), int(raw["type"]), int(raw["allow"]), int(raw["deny"]))
            )
        except (KeyError, TypeError, ValueError):
            continue
    return found


def _subject_user(data: dict[str, Any]) -> int | None:
    """The member an event is about: `user.id` (REST shape) or `userId`."""
    user = data.get("user")
    raw = user.get("id") if isinstance(user, dict) else data.get("userId")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


class Hub:
    def __init__(self, db: Database, bus: Bus, presence: Presence, limits: Limits) -> None:
        self.db = db
        self.bus = bus
        self.presence = presence
        self.limits = limits
        self.sessions: dict[str, GatewaySession] = {}
        self.by_user: defaultdict[int, set[GatewaySession]] = defaultdict(set)
        self.by_server: defaultdict[int, set[GatewaySession]] = defaultdict(set)
        self.snapshots: dict[int, ServerSnapshot] = {}
        self._counted: set[str] = set()
        self._typing: dict[tuple[int, int], float] = {}
        # While the bus has more events in hand, connections hold their dispatches here and
        # write them all at once when it has none: one write per socket for a run of events.
        self.batching = False
        self.held: list[Any] = []
        self._paced_until = 0.0  # time.monotonic(): events before it are held
        # A pending flush: at the end of a pacing window, or the next chunk of one.
        self._flush_timer: asyncio.Handle | None = None
        self._flush_spent = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        bus.subscribe(self.on_event)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self.presence.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def close(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        for task in [self._sweeper, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.presence.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        """Forgets sessions detached for longer than the resume window."""
        while True:
            await asyncio.sleep(min(5.0, self.limits.resume_window_s / 2))
            cutoff = time.monotonic() - self.limits.resume_window_s
            for session in list(self.sessions.values()):
                if session.detached_at is not None and session.detached_at < cutoff:
                    self.forget(session)
            now = time.monotonic()
            stale = [k for k, t in self._typing.items() if now - t > self.limits.typing_interval_s]
            for key in stale:
                del self._typing[key]

    # --- sessions --------------------------------------------------------------------

    def open_session(
        self, user_id: int, auth_session_id: int, server_ids: list[int]
    ) -> GatewaySession:
        session = GatewaySession(
            user_id, auth_session_id, self.limits.replay_buffer, self.limits.max_pending
        )
        self.sessions[session.id] = session
        self.by_user[user_id].add(session)
        for server_id in server_ids:
            self._subscribe(session, server_id)
        return session

    def resumable(self, session_id: str, user_id: int) -> GatewaySession | None:
        session = self.sessions.get(session_id)
        if session is None or session.user_id != user_id:
            return None
        return session

    def forget(self, session: GatewaySession) -> None:
        self.sessions.pop(session.id, None)
        self.by_user[session.user_id].discard(session)
        if not self.by_user[session.user_id]:
            del self.by_user[session.user_id]
        for server_id in list(session.servers):
            self._unsubscribe(session, server_id)
        if session.id in self._counted:
            self._counted.discard(session.id)
            self._spawn(self._went_away(session.user_id))

    def _subscribe(self, session: GatewaySession, server_id: int) -> None:
        session.servers.add(server_id)
        self.by_server[server_id].add(session)

    def _unsubscribe(self, session: GatewaySession, server_id: int) -> None:
        session.servers.discard(server_id)
        members = self.by_server.get(server_id)
        if members is not None:
            members.discard(session)
            if not members:
                del self.by_server[server_id]

    # --- presence --------------------------------------------------------------------

    async def attached(self, session: GatewaySession, status: str, username: str) -> None:
        """A connection now carries the session: count it, announce the user if new."""
        if session.id in self._counted:
            return
        was_online = bool(await self.presence.online([session.user_id]))
        self._counted.add(session.id)
        await self.presence.connected(session.user_id)
        if not was_online and status != "invisible":
            self.announce(session.user_id, username, status, session.servers)

    def detached(self, session: GatewaySession) -> None:
        """The connection dropped; after a grace period without a resume, count it gone."""
        self._spawn(self._detach_later(session))

    async def _detach_later(self, session: GatewaySession) -> None:
        await asyncio.sleep(self.limits.offline_grace_s)
        if session.connection is None and session.id in self._counted:
            self._counted.discard(session.id)
            await self._went_away(session.user_id)

    async def _went_away(self, user_id: int) -> None:
        await self.presence.disconnected(user_id)
        if not await self.presence.online([user_id]):
            from gossip.servers import repository as servers
            from gossip.users import repository as users

            async with self.db.read_session() as db:
                user = await users.get(db, user_id)
                server_ids = await servers.server_ids_of(db, user_id)
            if user is not None and user.status != "invisible":
                self.announce(user_id, user.username, "offline", server_ids)
            await self._leave_voice(user_id)

    async def _leave_voice(self, user_id: int) -> None:
        """Gone from every process: the user leaves voice (VOICE_STATE_UPDATE, null channel)."""
        from gossip.voice import service as voice

        try:
            async with self.db.write_session() as db:
                if await voice.do_clear_user(db, user_id):
                    await db.commit()
                    self.bus.publish(take(db))
        except Exception:  # a background task: log, never kill the hub
            log.exception("clearing the voice state of user %s failed", user_id)

    def announce(self, user_id: int, username: str, status: str, server_ids: Any) -> None:
        visible = "offline" if status == "invisible" else status
        self.bus.publish(
            [
                Event(
                    "PRESENCE_UPDATE",
                    {
                        "user": {"id": str(user_id), "username": username},
                        "status": visible,
                        "activities": [],
                    },
                    Audience(user_ids=(user_id,), server_ids=tuple(sorted(server_ids))),
                )
            ]
        )

    async def visible_statuses(self, users: list[tuple[int, str]]) -> dict[int, str]:
        """What others see of each (user id, chosen status): offline unless connected."""
        online = await self.presence.online([uid for uid, _ in users])
        return {
            uid: (status if uid in online and status != "invisible" else "offline")
            for uid, status in users
        }

    def typing_allowed(self, user_id: int, channel_id: int) -> bool:
        """One TYPING_START per user and channel per interval; repeats are dropped."""
        now = time.monotonic()
        last = self._typing.get((user_id, channel_id))
        if last is not None and now - last < self.limits.typing_interval_s:
            return False
        self._typing[(user_id, channel_id)] = now
        return True

    # --- fan-out ---------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        self.batching = (
            bool(self.held)
            or self._flush_timer is not None
            or self.bus.delivering_more()
            or time.monotonic() < self._paced_until
        )
        direct = not self.batching
        started = time.perf_counter()
        try:
            await self._on_event(event)
        finally:
            if direct and not self.held:
                # Written as it went: what that took paces the next fan-out.
                self._pace(time.perf_counter() - started)
            if self._flush_timer is None and not self.bus.delivering_more():
                wait = self._paced_until - time.monotonic()
                if not self.held:
                    self.batching = False
                elif wait > 0:
                    loop = asyncio.get_running_loop()
                    self._flush_timer = loop.call_later(wait, self._timed_flush)
                else:
                    self.flush()

    def _timed_flush(self) -> None:
        self._flush_timer = None
        self.flush()

    def flush(self) -> None:
        """Writes what the connections held, each socket's in one write; `FLUSH_CHUNK` of
        them now and the rest in later turns of the loop (dispatches meanwhile join those
        still held, or wait for the next flush)."""
        held, self.held = self.held, []
        self.batching = False
        self._flush_spent = 0.0
        self._flush_from(held, 0)

    def _flush_from(self, held: list[Any], start: int) -> None:
        self._flush_timer = None
        started = time.perf_counter()
        end = start + FLUSH_CHUNK
        for connection in held[start:end]:
            connection.flush()
        self._flush_spent += time.perf_counter() - started
        loop = asyncio.get_running_loop()
        if end < len(held):
            self._flush_timer = loop.call_soon(self._flush_from, held, end)
            return
        self._pace(self._flush_spent)
        if self.held:  # held while this flush went on in chunks
            wait = max(0.0, self._paced_until - time.monotonic())
            self._flush_timer = loop.call_later(wait, self._timed_flush)

    def _pace(self, spent: float) -> None:
        limit = self.limits.fanout_pace_s
        if spent >= PACE_FROM_S and limit > 0:
            self._paced_until = time.monotonic() + min(PACE_FACTOR * spent, limit)
        else:
            self._paced_until = 0.0

    async def _on_event(self, event: Event) -> None:
        if event.type == SESSION_REVOKED:
            self._revoke(int(event.data["authSessionId"]), event.audience.user_ids)
            return
        audience = event.audience
        server_id = audience.server_id
        if event.type == "SERVER_CREATE":
            server_id = int(event.data["id"])
        recipients: set[GatewaySession] = set()
        if server_id is not None and not event.type.startswith(_PERMISSION_NEUTRAL_PREFIXES):
            old = self.snapshots.pop(server_id, None)
            if event.type == "CHANNEL_UPDATE" and old is not None:
                # Those who just lost sight of the channel still learn of the change.
                recipients = self._filter(old, event, self.by_server.get(server_id, set()))
        if event.type in _JOINS and server_id is not None:
            subject = _subject_user(event.data) or (audience.user_ids or (None,))[0]
            for session in list(self.by_user.get(subject, ())) if subject else ():
                self._subscribe(session, server_id)

        recipients |= await self._recipients(event, server_id)
        if event.type == "PRESENCE_UPDATE":
            subject = _subject_user(event.data)
            recipients = {s for s in recipients if s.user_id != subject}
        if recipients:
            dispatch = Dispatch(event.type, orjson.dumps(event.data).decode())
            if len(recipients) > FLUSH_CHUNK:
                self.batching = True  # held, and written in chunks by flush()
            for session in recipients:
                session.push(dispatch)

        if server_id is not None and event.type in _LEAVES:
            subject = _subject_user(event.data)
            for session in list(self.by_user.get(subject, ())) if subject else ():
                self._unsubscribe(session, server_id)
        elif server_id is not None and event.type == "SERVER_DELETE":
            for session in list(self.by_server.get(server_id, ())):
                self._unsubscribe(session, server_id)
            self.snapshots.pop(server_id, None)

    def _revoke(self, auth_session_id: int, user_ids: tuple[int, ...]) -> None:
        """A logout: its sockets close with 4004 and cannot be resumed."""
        for user_id in user_ids:
            for session in list(self.by_user.get(user_id, ())):
                if session.auth_session_id == auth_session_id:
                    if session.connection is not None:
                        session.connection.kick(4004, "session revoked")
                    self.forget(session)

    async def _recipients(self, event: Event, server_id: int | None) -> set[GatewaySession]:
        audience = event.audience
        targets: set[GatewaySession] = set()
        for user_id in audience.user_ids:
            targets.update(self.by_user.get(user_id, ()))
        for sid in audience.server_ids:
            targets.update(self.by_server.get(sid, ()))
        if server_id is None:
            return targets
        members = self.by_server.get(server_id)
        if not members:
            return targets
        if audience.channel_id is None and not audience.permission:
            targets.update(members)
            return targets
        snapshot = await self._snapshot(server_id, {s.user_id for s in members})
        targets.update(self._filter(snapshot, event, members))
        return targets

    @staticmethod
    def _filter(
        snapshot: ServerSnapshot, event: Event, members: set[GatewaySession]
    ) -> set[GatewaySession]:
        """The members who may see this event according to one permission picture."""
        audience = event.audience
        chosen = members
        if audience.permission:
            needed = audience.permission
            chosen = {s for s in chosen if has(snapshot.base(s.user_id), needed)}
        channel_id = audience.channel_id
        if channel_id is None:
            return set(chosen)
        if event.type == "CHANNEL_DELETE":
            # The channel is gone from the database; its overwrites travel in the event.
            overwrites = _overwrites_of(event.data)
            return {s for s in chosen if snapshot.can_view_with(s.user_id, overwrites)}
        return {s for s in chosen if snapshot.can_view(s.user_id, channel_id)}

    async def _snapshot(self, server_id: int, user_ids: set[int]) -> ServerSnapshot:
        snapshot = self.snapshots.get(server_id)
        if snapshot is not None and user_ids.issubset(snapshot.member_roles):
            return snapshot
        async with self.db.read_session() as db:
            if snapshot is None:
                snapshot = await ServerSnapshot.load(db, server_id)
                self.snapshots[server_id] = snapshot
            await snapshot.ensure_members(db, user_ids)
        return snapshot
