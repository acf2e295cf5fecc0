"""One gateway WebSocket: the state machine from HELLO to close.

States: CONNECTED (HELLO sent; only AUTHENTICATE or RESUME accepted, within the auth
timeout) → ACTIVE (a session is attached; dispatches flow; heartbeats expected) → CLOSED.
Frames leave in order: control frames first, then the session's numbered frames from its
buffer. A frame that breaks the protocol closes the socket with a code naming what arrived.

Fan-out is the gateway's hot path: a message in a server of N online members is N writes.
So a dispatch for an idle connection (nothing queued ahead of it) is written at once, from
the fan-out loop itself; only when something is queued, or the server's write buffer for
the socket is full, does the connection's sender task take over. Waking a task per
delivery cost more than the write (docs/performance.md, gateway section). Under uvicorn's
sans-I/O WebSocket protocol the write is the frame's bytes, built once per event and handed
to the socket's transport (wire.py); elsewhere it is the ASGI send.

The connection speaks raw ASGI rather than through Starlette's WebSocket wrapper: the
wrapper's state checks ran on every frame of every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from gossip.auth import service as auth_service
from gossip.auth.subject import Actor
from gossip.events import take
from gossip.gateway import protocol as p
from gossip.gateway.hub import Hub
from gossip.gateway.session import GatewaySession, render
from gossip.gateway.wire import Dispatch, RawSocket, raw_socket, server_send, text_frame
from gossip.kit import ids
from gossip.kit.errors import GossipError
from gossip.runtime import Runtime
from gossip.servers import repository as servers_repository
from gossip.users import service as users_service

log = logging.getLogger("gossip.gateway")


class ProtocolViolation(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _frame(type_: str, data: Any = None) -> str:
    body: dict[str, Any] = {"type": type_}
    if data is not None:
        body["data"] = data
    return orjson.dumps(body).decode()


async def _finish_send(coro: Any, pending: Any) -> None:
    """Runs to its end an ASGI send coroutine that `Connection._write_now` started by hand
    and that stopped at an await (the server's buffer for the socket was full): the part of
    a task's work that applies here — wait until what it waits on is done, resume it."""
    try:
        while True:
            if pending is None:
                await asyncio.sleep(0)  # a bare yield: let the loop run once
            else:
                await asyncio.wait([pending])  # done or failed: the coroutine reads which
            pending = coro.send(None)
    except StopIteration:
        return
    except BaseException:
        coro.close()
        raise


class Connection:
    """One socket. Kept small: thousands of these live at once."""

    def __init__(self, receive: Receive, send: Send, runtime: Runtime, hub: Hub) -> None:
        self._receive = receive
        self._send = send
        self.runtime = runtime
        self.hub = hub
        self.limits = hub.limits
        self.session: GatewaySession | None = None
        self.actor: Actor | None = None
        self.sent_seq = 0
        # Direct writes to the socket, when the server allows them safely (wire.py).
        self._wire: RawSocket | None = None
        self._control: list[str] = []
        self._waiter: asyncio.Future[None] | None = None
        self._woken = False
        # The sender task is parked, so nothing of this socket is being written.
        self._idle = False
        # Dispatches are held for the hub's flush (hub.batching): see deliver().
        self._held = False
        self._hold_limit = max(1, min(64, self.limits.max_pending // 2))
        # A frame written by `_write_now` whose send has yet to finish: (coroutine, awaited).
        self._inflight: tuple[Any, Any] | None = None
        # A write failed (the peer went away): leave everything to the sender task.
        self._broken = False
        self._close_sent = False
        self._peer_gone = False
        self._closing: tuple[int, str] | None = None
        self._main: asyncio.Task[Any] | None = None
        now = time.monotonic()
        self._opened = now
        self._last_heartbeat = now
        self._window_start = now
        self._window_count = 0

    # --- called by the session (from the hub) ----------------------------------------

    def deliver(self, seq: int, dispatch: Dispatch) -> None:
        """A new numbered frame for this connection: written now if nothing is ahead of it,
        or, while the hub has more events in hand, at its flush with whatever follows."""
        if self._held:
            # Already waiting for the hub's flush: this one joins it (bounded, so a long
            # run of events never looks like a slow consumer).
            if seq - self.sent_seq >= self._hold_limit:
                self.flush()
            return
        if (
            self._idle
            and seq == self.sent_seq + 1
            and not self._control
            and self._inflight is None
            and self._closing is None
            and not self._broken
        ):
            wire = self._wire
            if wire is None:
                self._write_now(dispatch.text(seq), seq)
                return
            hub = self.hub
            if hub.batching:
                self._held = True
                hub.held.append(self)
                return
            if wire.write(dispatch.frame(seq)):
                self.sent_seq = seq
                return
            # Refused (buffer full, or closing): the sender task takes the ASGI path.
        self.wake()

    def flush(self) -> None:
        """Writes, in one go, the dispatches held since the hub's last flush."""
        self._held = False
        session = self.session
        wire = self._wire
        if session is None or wire is None:
            return
        last = session.seq
        missing = last - self.sent_seq
        if missing <= 0:
            return  # nothing left: the sender task, woken meanwhile, sent them
        buffer = session.buffer
        if (
            self._idle
            and not self._control
            and self._inflight is None
            and self._closing is None
            and not self._broken
            and missing <= len(buffer)
        ):
            # The buffer's tail, by index from the end (session.frames_after, inlined).
            if missing == 1:
                data = buffer[-1].frame(last)
            else:
                first = last - missing + 1
                data = b"".join([buffer[i - missing].frame(first + i) for i in range(missing)])
            if wire.write(data):
                self.sent_seq = last
                return
        self.wake()  # the sender task sends them, or ends the connection

    def _write_now(self, text: str, seq: int) -> None:
        # ASGI's send is a coroutine, but a server's send for a socket with room in its
        # buffer finishes without waiting: run it by hand, and only if it does wait (the
        # socket is backed up) give the rest to the sender task, which finishes it before
        # anything else.
        coro = self._send({"type": "websocket.send", "text": text})
        try:
            pending = coro.send(None)
        except StopIteration:
            self.sent_seq = seq
            return
        except Exception:
            # Not written; the sender will try again and end the way any failed send does.
            self._broken = True
            self.wake()
            return
        self._inflight = (coro, pending)
        self.sent_seq = seq
        self.wake()

    def wake(self) -> None:
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def kick(self, code: int, reason: str) -> None:
        """Close from outside (slow consumer, takeover, logout): never waits."""
        if self._closing is None:
            self._closing = (code, reason)
        self.wake()
        main = self._main
        if main is not None and main is not asyncio.current_task():
            main.cancel()

    # --- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        if (await self._receive())["type"] != "websocket.connect":
            return
        await self._send({"type": "websocket.accept"})
        self._wire = raw_socket(self._send)
        self._main = asyncio.current_task()
        self._control.append(
            _frame(p.HELLO, {"heartbeatInterval": self.limits.heartbeat_interval_ms})
        )
        sender = asyncio.create_task(self._send_loop())
        try:
            await self._receive_loop()
        except asyncio.CancelledError:
            if self._closing is None:
                raise  # the server is shutting down, not a kick
            self._main.uncancel()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            await self._finish()

    async def _finish(self) -> None:
        session = self.session
        if session is not None and session.connection is self:
            session.detach()
            self.hub.detached(session)
            code = self._closing[0] if self._closing else None
            if code is not None and code not in p.RESUMABLE:
                # The client broke the protocol: its session cannot be resumed.
                self.hub.forget(session)
        if not self._close_sent and not self._peer_gone:
            self._close_sent = True
            code, reason = self._closing or (1000, "")
            message = {"type": "websocket.close", "code": code, "reason": reason}
            # A client that stopped reading may never take the close frame; don't wait on it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send(message), timeout=1.0)

    # --- sending ---------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        send = self._send_text
        while self._closing is None:
            self._woken = False
            if self._inflight is not None:
                inflight, self._inflight = self._inflight, None
                await _finish_send(*inflight)
            wire = self._wire
            if self._control:
                frames, self._control = self._control, []
                # All in one write when the socket takes it; otherwise ASGI, which waits.
                if wire is None or not wire.write(
                    b"".join([text_frame(text.encode()) for text in frames])
                ):
                    for text in frames:
                        await send(text)
            session = self.session
            if session is not None and self.sent_seq < session.seq:
                entries = session.frames_after(self.sent_seq)
                if entries is None:
                    self.kick(p.Close.SLOW_CONSUMER, "fell behind the replay buffer")
                    return
                if wire is not None and wire.write(
                    b"".join([dispatch.frame(seq) for seq, dispatch in entries])
                ):
                    self.sent_seq = entries[-1][0]
                    continue
                for entry in entries:
                    await send(render(entry))
                    self.sent_seq = entry[0]
                continue
            if self._woken or self._control:
                continue
            self._waiter = loop.create_future()
            self._idle = True
            try:
                await self._waiter
            finally:
                self._idle = False
                self._waiter = None

    # --- receiving -------------------------------------------------------------------

    def _deadline(self) -> float:
        if self.session is None:
            return self._opened + self.limits.auth_timeout_s
        return self._last_heartbeat + 1.5 * self.limits.heartbeat_interval_ms / 1000

    async def _receive_loop(self) -> None:
        try:
            while True:
                delay = self._deadline() - time.monotonic()
                try:
                    async with asyncio.timeout(max(delay, 0)):
                        message = await self._receive()
                except TimeoutError:
                    if self.session is None:
                        raise ProtocolViolation(
                            p.Close.AUTH_TIMEOUT, "not authenticated in time"
                        ) from None
                    raise ProtocolViolation(p.Close.SESSION_TIMED_OUT, "heartbeat missed") from None
                if message["type"] == "websocket.disconnect":
                    self._peer_gone = True
                    return
                await self._handle(self._parse(message))
        except ProtocolViolation as violation:
            self.kick(violation.code, violation.reason)

    def _parse(self, message: dict[str, Any]) -> dict[str, Any]:
        text = message.get("text")
        if text is None:
            raise ProtocolViolation(p.Close.DECODE_ERROR, "expected a text frame with JSON")
        if len(text) > self.limits.max_frame_bytes:
            raise ProtocolViolation(p.Close.FRAME_TOO_LARGE, "frame too large")
        now = time.monotonic()
        if now - self._window_start > self.limits.frame_window_s:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self._window_count > self.limits.frames_per_window:
            raise ProtocolViolation(p.Close.RATE_LIMITED, "too many frames")
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ProtocolViolation(p.Close.DECODE_ERROR, "frame is not valid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise ProtocolViolation(p.Close.DECODE_ERROR, 'expected an object with a "type"')
        return body

    async def _handle(self, body: dict[str, Any]) -> None:
        kind = body["type"]
        if kind not in p.CLIENT_TYPES:
            raise ProtocolViolation(p.Close.UNKNOWN_TYPE, f"unknown type {kind[:32]!r}")
        if kind == p.HEARTBEAT:
            self._last_heartbeat = time.monotonic()
            self._send_control(_frame(p.HEARTBEAT_ACK))
            return
        if kind in (p.AUTHENTICATE, p.RESUME):
            if self.session is not None:
                raise ProtocolViolation(p.Close.ALREADY_AUTHENTICATED, "already authenticated")
            actor = await self._authenticate(body.get("token"))
            if kind == p.AUTHENTICATE:
                await self._identify(actor)
            else:
                await self._resume(actor, body.get("session_id"), body.get("seq"))
            return
        if self.session is None or self.actor is None:
            raise ProtocolViolation(p.Close.NOT_AUTHENTICATED, f"{kind} before AUTHENTICATE")
        if kind == p.TYPING_START:
            await self._typing(body.get("channelId"))
        elif kind == p.PRESENCE_UPDATE:
            await self._presence(body.get("status"))

    def _send_control(self, frame: str) -> None:
        self._control.append(frame)
        self.wake()

    async def _authenticate(self, token: object) -> Actor:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise ProtocolViolation(p.Close.AUTHENTICATION_FAILED, "token missing")
        try:
            async with self.runtime.db.read_session() as db:
                return await auth_service.authenticate(db, self.runtime.tokens, token)
        except GossipError as error:
            raise ProtocolViolation(p.Close.AUTHENTICATION_FAILED, error.message) from None

    async def _identify(self, actor: Actor) -> None:
        from gossip.gateway import service

        async with self.runtime.db.read_session() as db:
            ready = await service.ready_state(db, actor)
        session = self.hub.open_session(actor.user_id, actor.session_id, ready.server_ids)
        self.actor = actor
        self.session = session
        session.attach(self, 0)
        session.push(
            Dispatch(
                p.READY,
                orjson.dumps(
                    {
                        "user": ready.user,
                        "servers": [str(s) for s in ready.server_ids],
                        "session_id": session.id,
                    }
                ).decode(),
            )
        )
        self._last_heartbeat = time.monotonic()
        await self.hub.attached(session, ready.status, ready.user["username"])

    async def _resume(self, actor: Actor, session_id: object, seq: object) -> None:
        session = (
            self.hub.resumable(session_id, actor.user_id) if isinstance(session_id, str) else None
        )
        frames = (
            session.frames_after(seq)
            if session is not None and isinstance(seq, int) and not isinstance(seq, bool)
            else None
        )
        if session is None or frames is None:
            # Unknown, expired, or beyond the buffer: the client must start afresh.
            self._send_control(_frame(p.INVALID_SESSION, {"resumable": False}))
            return
        previous = session.connection
        if previous is not None:
            previous.kick(p.Close.UNKNOWN_ERROR, "session resumed elsewhere")
        self.actor = actor
        self.session = session
        self._control.extend(render(entry) for entry in frames)
        self._control.append(_frame(p.RESUMED, {"session_id": session.id, "seq": session.seq}))
        session.attach(self, session.seq)
        self.wake()
        self._last_heartbeat = time.monotonic()
        from gossip.gateway import service

        async with self.runtime.db.read_session() as db:
            ready = await service.ready_state(db, actor)
        await self.hub.attached(session, ready.status, ready.user["username"])

    async def _typing(self, raw: object) -> None:
        """A channel the actor cannot type in is ignored, not fatal: clients send these
        blindly, and closing the socket over one would punish a race with a kick."""
        from gossip.gateway import service

        actor = self.actor
        channel_id = ids.parse_id(raw) if isinstance(raw, str | int) else None
        if actor is None or channel_id is None:
            return
        if not self.hub.typing_allowed(actor.user_id, channel_id):
            return
        async with self.runtime.db.read_session() as session:
            try:
                await service.do_start_typing(session, actor, channel_id)
            except GossipError:
                return
            # Typing writes nothing: no commit to wait for.
            self.runtime.bus.publish(take(session))

    async def _presence(self, status: object) -> None:
        actor = self.actor
        if actor is None or not isinstance(status, str) or status not in users_service.STATUSES:
            return
        async with self.runtime.db.write_session() as session:
            user = await users_service.do_update_profile(
                session, actor, users_service.ProfileChanges(status=status)
            )
            server_ids = await servers_repository.server_ids_of(session, actor.user_id)
            await session.commit()
            self.runtime.bus.publish(take(session))
        self.hub.announce(actor.user_id, user.username, status, server_ids)


class GatewayEndpoint:
    """The gateway as a plain ASGI app, mounted by app.py as a Starlette WebSocketRoute
    (an instance, not a function, so Starlette hands over the raw receive and send)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        # The server's own send, not the middleware's wrappers of it: one coroutine less
        # per frame, and what wire.raw_socket recognises.
        await Connection(receive, server_send(scope, send), state.runtime, state.hub).run()


gateway_endpoint = GatewayEndpoint()
