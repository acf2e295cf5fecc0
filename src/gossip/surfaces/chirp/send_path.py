"""The hot path of `POST /api/channels/{id}/messages` with a JSON body (issue 2).

A plain message send is most of the write traffic, and through FastAPI it cost about ten
times a bare endpoint's CPU: route matching, dependency solving (the bearer token, the
write session, the body model), four middleware layers, SQLAlchemy's execution of five
statements and a transaction of its own (docs/performance.md). This ASGI middleware sits
in front of all of that and serves the common case directly: the token from the token
cache, the rate limit as `deps.check_rate` counts it, and the write through the group
commit (messages/group_commit.py), which batches concurrent sends into one SQLite
transaction on the single writer.

Everything it does not serve cheaply goes to the FastAPI app *before* anything has been
counted or written, so those requests get exactly today's answers, by today's code:
another method or path, a body that is not a plain `{"content": str, "tts": bool}`
(malformed JSON, embeds, unknown keys, a NUL, over 2000 characters…), no JSON content
type or no Content-Length, an unknown or uncached token, an ID that is not a snowflake,
an audit-log reason. After the rate limit has counted the request, the rare cases the
group commit leaves (mentions, threads, DMs, webhook subscribers to message events) run
the route's own service call in an ordinary write transaction here. Errors are rendered by
the same renderer the app's handlers use, with the same rate-limit headers.

It sits outside even FastAPI's own layers (app.py, `GossipApp.front`), so it renders its
own errors, as those layers' handlers would.

Only on SQLite (app.py): on PostgreSQL the route serves every send.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gossip.hooks import catalog
from gossip.kit import ids
from gossip.kit.errors import AlreadyExists, GossipError
from gossip.kit.timefmt import iso, utcnow
from gossip.messages import service as messages_service
from gossip.messages.group_commit import GroupCommit
from gossip.messages.service import MAX_CONTENT
from gossip.runtime import Runtime
from gossip.surfaces.chirp.deps import hit_rate, write_transaction
from gossip.surfaces.errors import render
from gossip.surfaces.middleware import add_rate_headers

log = logging.getLogger("gossip.errors")

_PREFIX = "/api/channels/"
_SUFFIX = "/messages"
_BODY_KEYS = frozenset({"content", "tts", "embeds"})
# Webhook events a message send stages outbox rows for (hooks/outbox.py).
_HOOK_EVENTS = frozenset({"message.created", "message.received", catalog.WILDCARD})


class SendPath:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.sends = GroupCommit(runtime.db, runtime.bus)
        self.max_body = runtime.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        channel_id = (
            ids.parse_id(path[len(_PREFIX) : -len(_SUFFIX)])
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX) and not scope.get("root_path")
            else None
        )
        token = self._token(scope) if channel_id is not None else None
        if token is None:
            await self.app(scope, receive, send)
            return
        # The body, then the decision; whatever we read is replayed if the app serves it.
        received: list[Message] = []
        body = b""
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        plain = _plain_body(body) if message["type"] == "http.request" else None
        actor = None
        if plain is not None:
            try:
                actor, _ = await self.runtime.auth_cache.get(token)
            except Exception as error:  # the auth epoch (a file, or Redis) unreadable
                await self._fail(scope, receive, send, error)
                return
        if actor is None or plain is None or channel_id is None:
            await self.app(scope, _replay(received, receive), send)
            return

        # From here on this request is ours: the rate limit counts it.
        content, tts = plain
        state: dict[str, Any] = scope.setdefault("state", {})
        state["actor"] = actor  # as deps.current_actor leaves it
        try:
            if self.runtime.settings.rate_limits:
                await hit_rate(self.runtime, "general", f"user:{actor.user_id}", state)
            data = None
            if not await self._hooked():
                data = await self.sends.send(actor, channel_id, content, tts)
            if data is None:
                async with write_transaction(self.runtime, None) as session:
                    view = await messages_service.do_send_message(
                        session, actor, channel_id, content=content, tts=tts
                    )
                data = view.payload()
        except Exception as error:
            await self._fail(scope, receive, send, error)
            return
        # envelope.ok(data, status=201, message="Message sent"), without the Response object.
        answer = orjson.dumps(
            {"success": True, "data": data, "message": "Message sent", "timestamp": iso(utcnow())}
        )
        start: Message = {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-length", str(len(answer)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
        add_rate_headers(start, scope)
        await send(start)
        await send({"type": "http.response.body", "body": answer})

    def _token(self, scope: Scope) -> str | None:
        """The bearer token if the request's headers are the plain case, else None."""
        authorization = content_type = None
        length_ok = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                # BodyLimit's check; any doubt and the app's middleware decides.
                if not value.isdigit() or int(value) > self.max_body:
                    return None
                length_ok = True
            elif name == b"content-type":
                content_type = content_type or value
            elif name == b"authorization":
                authorization = authorization or value
            elif name == b"x-audit-log-reason":
                return None
        if not length_ok or content_type != b"application/json" or authorization is None:
            return None
        # As fastapi.security.HTTPBearer reads it.
        scheme, token = get_authorization_scheme_param(authorization.decode("latin-1"))
        return token if scheme.lower() == "bearer" and token else None

    async def _hooked(self) -> bool:
        """Whether a webhook endpoint may want this send (the ordinary path stages its
        outbox rows; the group commit stages none)."""
        subscribed = await self.runtime.outbox.subscribed(self.runtime.db)
        return bool(subscribed) and not subscribed.isdisjoint(_HOOK_EVENTS)

    async def _fail(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        # As the app's exception handlers (surfaces/errors.py) answer the same errors.
        if isinstance(error, IntegrityError):
            log.info("integrity error on %s: %s", scope["path"], error.__class__.__name__)
            error = AlreadyExists()
        elif not isinstance(error, GossipError):
            log.error("unhandled error on POST %s", scope["path"], exc_info=error)
            error = GossipError()
        response = render(scope["path"], error, scope.get("app"))

        async def with_rate_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_rate_headers(message, scope)
            await send(message)

        await response(scope, receive, with_rate_headers)


def _plain_body(body: bytes) -> tuple[str, bool] | None:
    """(content, tts) of a body the route's model would accept as is and that the service
    would store as sent; None for anything else, which the route then judges."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    content = data.get("content")
    tts = data.get("tts", False)
    if (
        type(content) is not str
        or len(content) > MAX_CONTENT
        or "\x00" in content
        or type(tts) is not bool
        or data.get("embeds", []) != []
    ):
        return None
    return content, tts


def _replay(received: list[Message], receive: Receive) -> Receive:
    """`receive` as if nothing had been read yet."""
    pending = list(received)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
