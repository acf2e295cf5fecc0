"""`/api/users/me/channels`: the caller's direct messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from gossip.dms import service as dms_service
from gossip.surfaces.chirp.channels import DmChannelOut
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body

router = APIRouter(prefix="/users/me/channels", tags=["dms"])


class DmCreateIn(Body):
    """One recipient opens (or reopens) a DM; 2-9 make a new group DM owned by the caller.
    An unknown or malformed recipient is a 400 whose details name `recipients.<index>`."""

    recipients: list[Annotated[str, Field(max_length=20)]] = Field(min_length=1, max_length=9)
    name: str | None = Field(default=None, max_length=100)


@router.get(
    "",
    openapi_extra=access("user"),
    response_model=Envelope[list[DmChannelOut]],
    responses=error_responses(401, 403, 429),
)
async def list_dms(actor: CurrentActor, session: Reader) -> JSON:
    """The caller's DMs and group DMs, the most recently active first."""
    views = await dms_service.list_dms(session, actor)
    return ok([v.payload(actor.user_id) for v in views])


@router.post(
    "",
    openapi_extra=access("user"),
    status_code=201,
    response_model=Envelope[DmChannelOut],
    responses={
        200: {"model": Envelope[DmChannelOut], "description": "The DM already existed"},
        **error_responses(400, 401, 403, 413, 429),
    },
)
async def open_dm(body: DmCreateIn, actor: CurrentActor, session: Writer) -> JSON:
    """201 with a new channel; 200 with the existing one-to-one DM."""
    view, created = await dms_service.do_open_dm(session, actor, body.recipients, body.name)
    status = 201 if created else 200
    return ok(view.payload(actor.user_id), status=status, message="DM channel opened")
