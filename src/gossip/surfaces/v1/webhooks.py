"""Outgoing webhooks of spec 001 ("Realtime"), managed with an API key under `/v1/webhooks`.

Spec 001 registers endpoints "in the dashboard" and gives no paths; these are ours
(docs/webhooks.md). An endpoint belongs to the key owner's account: another account's is
404. Its secret is in the answer to the POST that creates it and to rotate-secret, and
never again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from gossip.hooks import catalog
from gossip.hooks import service as hooks
from gossip.hooks.service import Owner
from gossip.surfaces.chirp.deps import RuntimeDep
from gossip.surfaces.v1.deps import ApiKey, KeyContext, Reader, Writer
from gossip.surfaces.v1.pagination import Page, paginate, parse_public_id
from gossip.surfaces.v1.render import JSON, error_responses

router = APIRouter(tags=["v1 webhooks"])

# Every route: the key (401, 403 disabled owner, 429 daily cap), the body or query (400,
# 413), the IDs in the path (404).
ERRORS = error_responses(400, 401, 403, 404, 413, 429)

EndpointId = Annotated[str, Path(max_length=40, description="`wh_…`")]
DeliveryId = Annotated[str, Path(max_length=40, description="`msg_…`, the webhook-id")]
NoNul = r"^[^\x00]*$"


class EndpointIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048, pattern=NoNul)
    events: list[Annotated[str, Field(min_length=1, max_length=128, pattern=NoNul)]] = Field(
        min_length=1, max_length=hooks.MAX_EVENTS
    )
    description: str | None = Field(default=None, max_length=200, pattern=NoNul)


class EndpointPatch(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2048, pattern=NoNul)
    events: list[Annotated[str, Field(min_length=1, max_length=128, pattern=NoNul)]] | None = Field(
        default=None, min_length=1, max_length=hooks.MAX_EVENTS
    )
    description: str | None = Field(default=None, max_length=200, pattern=NoNul)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    mode: str
    disabled_reason: str | None
    created_at: str
    secret: str | None = Field(default=None, description="Only when created or rotated")


class EndpointList(BaseModel):
    items: list[EndpointOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    at: str
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event: str
    status: str
    created_at: str
    delivered_at: str | None
    next_attempt_at: str | None
    attempts: list[AttemptOut]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class EventTypesOut(BaseModel):
    items: list[str]


class DeletedOut(BaseModel):
    ok: bool
    id: str


async def who(session: Any, key: KeyContext) -> Owner:
    return await hooks.owner(session, key.user_id, key.key_id, live=key.live)


def _endpoint_id(value: str) -> int:
    return parse_public_id("wh", value, "Webhook")


def _delivery_id(value: str) -> int:
    return parse_public_id("msg", value, "Delivery")


@router.get("/webhooks/event-types", response_model=EventTypesOut, responses=ERRORS)
async def event_types(key: ApiKey) -> JSON:
    """Gossip's event types an endpoint can subscribe to ("*": all it may see)."""
    return JSON({"items": sorted(catalog.GOSSIP_EVENTS)})


@router.post(
    "/webhooks",
    status_code=201,
    response_model=EndpointOut,
    responses=ERRORS,
)
async def create_endpoint(body: EndpointIn, key: ApiKey, session: Writer, rt: RuntimeDep) -> JSON:
    owner = await who(session, key)
    events = hooks.check_events(body.events, owner.namespace, bare_is_own=False)
    url = await hooks.check_url(body.url, rt.settings.webhook_allow_private)
    endpoint, secret = await hooks.do_create_endpoint(
        session, owner, url=url, events=events, description=body.description
    )
    return JSON(hooks.endpoint_view(endpoint, secret), status_code=201)


@router.get("/webhooks", response_model=EndpointList, responses=ERRORS)
async def list_endpoints(key: ApiKey, session: Reader) -> JSON:
    found = await hooks.list_endpoints(session, await who(session, key))
    return JSON({"items": [hooks.endpoint_view(e) for e in found], "next_cursor": None})


@router.get(
    "/webhooks/{endpoint_id}",
    response_model=EndpointOut,
    responses=ERRORS,
)
async def get_endpoint(endpoint_id: EndpointId, key: ApiKey, session: Reader) -> JSON:
    owner = await who(session, key)
    endpoint = await hooks.access_endpoint(session, owner, _endpoint_id(endpoint_id))
    return JSON(hooks.endpoint_view(endpoint))


@router.patch(
    "/webhooks/{endpoint_id}",
    response_model=EndpointOut,
    responses=ERRORS,
)
async def update_endpoint(
    endpoint_id: EndpointId, body: EndpointPatch, key: ApiKey, session: Writer, rt: RuntimeDep
) -> JSON:
    owner = await who(session, key)
    target = _endpoint_id(endpoint_id)
    await hooks.access_endpoint(session, owner, target)
    events = (
        hooks.check_events(body.events, owner.namespace, bare_is_own=False)
        if body.events is not None
        else None
    )
    url = (
        await hooks.check_url(body.url, rt.settings.webhook_allow_private)
        if body.url is not None
        else None
    )
    endpoint = await hooks.do_update_endpoint(
        session,
        owner,
        target,
        url=url,
        events=events,
        description=body.description,
        enabled=body.enabled,
    )
    return JSON(hooks.endpoint_view(endpoint))


@router.delete(
    "/webhooks/{endpoint_id}",
    response_model=DeletedOut,
    responses=ERRORS,
)
async def delete_endpoint(endpoint_id: EndpointId, key: ApiKey, session: Writer) -> JSON:
    owner = await who(session, key)
    await hooks.do_delete_endpoint(session, owner, _endpoint_id(endpoint_id))
    return JSON({"ok": True, "id": endpoint_id})


@router.post(
    "/webhooks/{endpoint_id}/rotate-secret",
    response_model=EndpointOut,
    responses=ERRORS,
)
async def rotate_secret(endpoint_id: EndpointId, key: ApiKey, session: Writer) -> JSON:
    """A new secret, shown once; the previous one signs nothing from now on."""
    owner = await who(session, key)
    endpoint, secret = await hooks.do_rotate_secret(session, owner, _endpoint_id(endpoint_id))
    return JSON(hooks.endpoint_view(endpoint, secret))


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    responses=ERRORS,
)
async def list_deliveries(
    endpoint_id: EndpointId, key: ApiKey, session: Reader, page: Page
) -> JSON:
    """The delivery log, newest first: each delivery with every attempt's status and
    latency."""
    owner = await who(session, key)
    before = page.after if isinstance(page.after, int) else None
    rows = await hooks.list_deliveries(
        session, owner, _endpoint_id(endpoint_id), before=before, limit=page.limit + 1
    )
    return JSON(paginate(rows, page, position=lambda r: r[0].id, render=lambda r: r[1]))


@router.get(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}",
    response_model=DeliveryOut,
    responses=ERRORS,
)
async def get_delivery(
    endpoint_id: EndpointId, delivery_id: DeliveryId, key: ApiKey, session: Reader
) -> JSON:
    owner = await who(session, key)
    view = await hooks.get_delivery(
        session, owner, _endpoint_id(endpoint_id), _delivery_id(delivery_id)
    )
    return JSON(view)


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    responses=ERRORS,
)
async def redeliver(
    endpoint_id: EndpointId, delivery_id: DeliveryId, key: ApiKey, session: Writer
) -> JSON:
    """Queues the delivery again (same webhook-id, fresh retry schedule)."""
    owner = await who(session, key)
    endpoint = _endpoint_id(endpoint_id)
    await hooks.do_redeliver(session, owner, endpoint, _delivery_id(delivery_id))
    view = await hooks.get_delivery(session, owner, endpoint, _delivery_id(delivery_id))
    return JSON(view, status_code=202)
