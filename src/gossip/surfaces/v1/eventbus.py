"""Spec 000's event bus under `/v1/core/messages`: publish, and listeners.

A key publishes in its own namespace (its owner's username, `catalog.namespace_of`):
`POST /v1/core/messages/new/log` publishes `alice:log`; `gossip:` is reserved (403), as is
anyone else's namespace. A listener (`register/{event_type}`, or `register` for every
event the key may receive) gets its own signing secret, shown once, and every delivery
goes through the same signed, durable outbox as spec 001's webhooks (docs/eventbus.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from gossip.hooks import service as hooks
from gossip.surfaces.chirp.deps import RuntimeDep
from gossip.surfaces.v1.deps import ApiKey, Reader, Writer
from gossip.surfaces.v1.pagination import parse_public_id
from gossip.surfaces.v1.render import JSON
from gossip.surfaces.v1.webhooks import ERRORS, DeletedOut, who

router = APIRouter(tags=["v1 event bus"])

EventType = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-*]+$")]


class PublishIn(BaseModel):
    data: Any = Field(description="The JSON data of the event")


class PublishOut(BaseModel):
    event: str
    listeners: int = Field(description="Deliveries queued")


class RegisterIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048, pattern=r"^[^\x00]*$")


class ListenerOut(BaseModel):
    id: str
    event_type: str | None
    url: str
    enabled: bool
    mode: str
    disabled_reason: str | None
    created_at: str
    secret: str | None = Field(default=None, description="Only when registered or rotated")


class ListenerList(BaseModel):
    items: list[ListenerOut]
    next_cursor: str | None


def _view(endpoint: Any, secret: str | None = None) -> dict[str, Any]:
    view = hooks.listener_view(endpoint, secret)
    for unused in ("events", "description"):
        view.pop(unused, None)
    return view


@router.post(
    "/core/messages/new/{event_type}",
    response_model=PublishOut,
    responses=ERRORS,
)
async def publish(
    event_type: EventType, body: PublishIn, key: ApiKey, session: Writer, rt: RuntimeDep
) -> JSON:
    """POSTs `{"event", "data"}` to every listener of the event (through the outbox)."""
    owner = await who(session, key)
    name, count = await hooks.do_publish(session, rt.outbox, owner, event_type, body.data)
    return JSON({"event": name, "listeners": count})


async def _register(
    event_type: str | None, body: RegisterIn, key: Any, session: Any, rt: Any
) -> JSON:
    owner = await who(session, key)
    url = await hooks.check_url(body.url, rt.settings.webhook_allow_private)
    endpoint, secret = await hooks.do_register_listener(session, owner, event_type, url)
    return JSON(_view(endpoint, secret), status_code=201)


@router.post(
    "/core/messages/register/{event_type}",
    status_code=201,
    response_model=ListenerOut,
    responses=ERRORS,
)
async def register(
    event_type: EventType, body: RegisterIn, key: ApiKey, session: Writer, rt: RuntimeDep
) -> JSON:
    return await _register(event_type, body, key, session, rt)


@router.post(
    "/core/messages/register",
    status_code=201,
    response_model=ListenerOut,
    responses=ERRORS,
)
async def register_all(body: RegisterIn, key: ApiKey, session: Writer, rt: RuntimeDep) -> JSON:
    """No event type: every event the key may receive."""
    return await _register(None, body, key, session, rt)


@router.get(
    "/core/messages/listeners",
    response_model=ListenerList,
    responses=ERRORS,
)
async def list_listeners(key: ApiKey, session: Reader) -> JSON:
    found = await hooks.list_endpoints(session, await who(session, key), "listener")
    return JSON({"items": [_view(e) for e in found], "next_cursor": None})


ListenerId = Annotated[str, Path(max_length=40, description="`wh_…`")]


@router.delete(
    "/core/messages/listeners/{listener_id}",
    response_model=DeletedOut,
    responses=ERRORS,
)
async def remove_listener(listener_id: ListenerId, key: ApiKey, session: Writer) -> JSON:
    owner = await who(session, key)
    target = parse_public_id("wh", listener_id, "Listener")
    await hooks.do_delete_endpoint(session, owner, target, "listener")
    return JSON({"ok": True, "id": listener_id})


@router.post(
    "/core/messages/listeners/{listener_id}/rotate-secret",
    response_model=ListenerOut,
    responses=ERRORS,
)
async def rotate_listener_secret(listener_id: ListenerId, key: ApiKey, session: Writer) -> JSON:
    owner = await who(session, key)
    target = parse_public_id("wh", listener_id, "Listener")
    endpoint, secret = await hooks.do_rotate_secret(session, owner, target, "listener")
    return JSON(_view(endpoint, secret))
