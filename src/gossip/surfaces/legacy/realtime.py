"""Spec 002's Socket.IO: the handshake, the events clients send, and fan-out from the bus.

Handshake: the token in the `Authorisation` header (or `Authorization`), and the channels
to listen to as a comma-separated `channels` header. Browsers cannot set headers on a
WebSocket, so the Socket.IO `auth` object may carry `token` and `channels` instead. A
connection without a valid token is accepted and hears nothing; of the channels named,
only the user's own one-to-one DMs are joined, the rest silently ignored.

Clients send `message` and `messageDeleted`. Each goes through the messages service in
its own transaction, exactly as a Chirp REST call does, and nothing is emitted here:
every client hears of it the way it hears of everything, from the event bus after the
commit. `on_event` maps the bus's MESSAGE_CREATE, MESSAGE_DELETE and CHANNEL_CREATE of
DMs to Socket.IO rooms (one per channel, one per user) in this process; with Redis every
process receives every event, so a Socket.IO client, a Chirp gateway client and a REST
caller on different processes all see one conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import socketio

from gossip.auth.subject import Actor
from gossip.channels.service import DM
from gossip.dms import service as dms_service
from gossip.events import Event
from gossip.kit import ids
from gossip.kit.errors import GossipError
from gossip.messages import service as messages_service
from gossip.runtime import Runtime
from gossip.surfaces.legacy import render
from gossip.surfaces.legacy.deps import authenticate, token_from, writing

log = logging.getLogger("gossip.legacy")

MAX_CHANNELS = 1000  # named in one handshake; more are ignored


def channel_room(channel_id: int | str) -> str:
    return f"channel:{channel_id}"


def user_room(user_id: int | str) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Listener:
    """What a connection with a valid token remembers (kept in its Socket.IO session)."""

    token: str
    user_id: int


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The handshake's headers, lower-cased, from the WSGI-style environ."""
    return {
        key[5:].lower().replace("_", "-"): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }


def _channel_ids(raw: Any) -> set[int]:
    if isinstance(raw, list):
        raw = ",".join(str(part) for part in raw)
    if not isinstance(raw, str):
        return set()
    parts = [p.strip() for p in raw.split(",")][:MAX_CHANNELS]
    return {i for i in (ids.parse_id(p) for p in parts) if i is not None}


class Realtime:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # Handlers run in order per connection, so one client's messages are stored in
        # the order it sent them. Same-origin only, like the HTTP routes (no CORS).
        self.sio = socketio.AsyncServer(
            async_mode="asgi", async_handlers=False, logger=False, engineio_logger=False
        )
        self.sio.on("connect", self.on_connect)
        self.sio.on("message", self.on_message)
        self.sio.on("messageDeleted", self.on_message_deleted)
        # Mounted at /socket.io: everything that reaches it is Engine.IO traffic.
        self.asgi = socketio.ASGIApp(self.sio, socketio_path=None)

    # --- the handshake ---------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        headers = _headers(environ)
        extra = auth if isinstance(auth, dict) else {}
        token = token_from(headers) or token_from(
            {"authorisation": str(extra.get("token") or extra.get("Authorisation") or "")}
        )
        if token is None:
            return True
        try:
            actor = await authenticate(self.runtime, token)
            async with self.runtime.db.read_session() as session:
                dms = await dms_service.list_dms(session, actor)
        except GossipError:
            return True  # spec 002: the connection succeeds, and hears nothing
        wanted = _channel_ids(headers.get("channels") or extra.get("channels"))
        await self.sio.save_session(sid, Listener(token, actor.user_id))
        await self.sio.enter_room(sid, user_room(actor.user_id))
        for view in dms:
            if view.channel.type == DM and view.channel.id in wanted:
                await self.sio.enter_room(sid, channel_room(view.channel.id))
        return True

    async def _actor(self, sid: str) -> Actor | None:
        """The sender, checked again: a revoked token or a disabled account stops here."""
        listener = await self.sio.get_session(sid)
        if not isinstance(listener, Listener):
            return None
        try:
            return await authenticate(self.runtime, listener.token)
        except GossipError:
            return None

    async def _allowed(self, actor: Actor) -> bool:
        runtime = self.runtime
        if not runtime.settings.rate_limits:
            return True
        decision = await runtime.limiter.hit(
            "general", f"user:{actor.user_id}", runtime.rule("general")
        )
        return decision.allowed

    # --- events from clients ---------------------------------------------------------

    async def on_message(self, sid: str, data: Any = None) -> None:
        """{content, channel}: stored if the sender may write there, else dropped (spec
        002 has no error event: a malformed event is simply not passed on)."""
        if not isinstance(data, dict):
            return
        content, channel_id = data.get("content"), ids.parse_id(data.get("channel"))
        if not isinstance(content, str) or channel_id is None:
            return
        actor = await self._actor(sid)
        if actor is None or not await self._allowed(actor):
            return
        try:
            async with writing(self.runtime) as session:
                await messages_service.do_send_message(session, actor, channel_id, content=content)
        except GossipError as error:
            log.debug("legacy message refused: %s", error.message)

    async def on_message_deleted(self, sid: str, data: Any = None) -> None:
        """{channel, id}: the author deletes their message (nobody moderates a DM)."""
        if not isinstance(data, dict):
            return
        channel_id, message_id = ids.parse_id(data.get("channel")), ids.parse_id(data.get("id"))
        if channel_id is None or message_id is None:
            return
        actor = await self._actor(sid)
        if actor is None or not await self._allowed(actor):
            return
        try:
            async with writing(self.runtime) as session:
                await messages_service.do_delete_message(session, actor, channel_id, message_id)
        except GossipError as error:
            log.debug("legacy delete refused: %s", error.message)

    # --- events from the bus ---------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        audience = event.audience
        if audience.server_id is not None or audience.channel_id is None:
            return  # server channels are not spec 002's
        data = event.data
        if event.type == "MESSAGE_CREATE":
            await self.sio.emit(
                "message", render.message_event(data), room=channel_room(audience.channel_id)
            )
        elif event.type == "MESSAGE_DELETE":
            await self.sio.emit(
                "messageDeleted",
                {"channel": data.get("channelId"), "id": data.get("id")},
                room=channel_room(audience.channel_id),
            )
        elif event.type == "CHANNEL_CREATE" and data.get("type") == DM:
            await self._channel_created(event, audience.channel_id)

    async def _channel_created(self, event: Event, channel_id: int) -> None:
        """The participants' connections start listening to the new DM at once (a client
        names its channels only when it connects, and would otherwise miss the first
        messages); the other participant, not the one who opened it, hears
        `channelCreate`, as spec 002 says."""
        for user_id in event.audience.user_ids:
            for sid in self._sids(user_room(user_id)):
                await self.sio.enter_room(sid, channel_room(channel_id))
            if user_id != event.actor_id:
                await self.sio.emit(
                    "channelCreate", {"channel_id": str(channel_id)}, room=user_room(user_id)
                )

    def _sids(self, room: str) -> list[str]:
        return [sid for sid, _ in self.sio.manager.get_participants("/", room)]
