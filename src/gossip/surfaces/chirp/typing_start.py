"""`POST /api/channels/{channel_id}/typing`: the REST way to say "I am typing"."""

from __future__ import annotations

from fastapi import APIRouter

from gossip.events import take
from gossip.gateway import service as gateway_service
from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.deps import CurrentActor, Reader, RuntimeDep, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access

router = APIRouter(tags=["channels"])


@router.post(
    "/channels/{channel_id}/typing",
    openapi_extra=access("channel", Permission.SEND_MESSAGES),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def start_typing(
    channel_id: str, actor: CurrentActor, session: Reader, rt: RuntimeDep
) -> JSON:
    channel = path_id(channel_id, "Channel")
    await gateway_service.do_start_typing(session, actor, channel)
    # Typing writes nothing, so there is no commit to wait for; throttled like the gateway.
    events = take(session)
    if rt.hub.typing_allowed(actor.user_id, channel):
        rt.bus.publish(events)
    return ok(None)
