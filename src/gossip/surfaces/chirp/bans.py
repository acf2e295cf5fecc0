"""`/api` routes for bans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from gossip.bans import service as bans_service
from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.members import cursor
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out, UserBriefOut

router = APIRouter(prefix="/servers/{server_id}/bans", tags=["bans"])


class BanIn(Body):
    reason: str | None = Field(default=None, max_length=512)
    deleteMessageDays: int = Field(default=0, ge=0, le=7)


class BanOut(Out):
    user: UserBriefOut
    reason: str | None
    moderatorId: str | None
    createdAt: str


@router.get(
    "",
    openapi_extra=access("server", Permission.BAN_MEMBERS),
    response_model=Envelope[list[BanOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_bans(
    server_id: str,
    actor: CurrentActor,
    session: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    after: Annotated[str | None, Query(max_length=20, description="a user ID")] = None,
) -> JSON:
    bans = await bans_service.list_bans(
        session, actor, path_id(server_id, "Server"), after=cursor(after, "after"), limit=limit
    )
    return ok(bans)


@router.get(
    "/{user_id}",
    openapi_extra=access("server", Permission.BAN_MEMBERS),
    response_model=Envelope[BanOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_ban(server_id: str, user_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(
        await bans_service.access_ban(
            session, actor, path_id(server_id, "Server"), path_id(user_id, "Ban")
        )
    )


@router.put(
    "/{user_id}",
    openapi_extra=access("server", Permission.BAN_MEMBERS),
    status_code=201,
    description="Bans a user (201), or updates the reason of an existing ban (200). The "
    "user need not be a member. `deleteMessageDays` deletes their recent messages.",
    response_model=Envelope[BanOut],
    responses={
        200: {"model": Envelope[BanOut]},
        **error_responses(400, 401, 403, 404, 409, 413, 429),
    },
)
async def ban_user(
    server_id: str,
    user_id: str,
    actor: CurrentActor,
    session: Writer,
    body: BanIn | None = None,
) -> JSON:
    body = body or BanIn()
    data, created = await bans_service.do_ban(
        session,
        actor,
        path_id(server_id, "Server"),
        path_id(user_id, "User"),
        reason=body.reason,
        delete_message_days=body.deleteMessageDays,
    )
    if created:
        return ok(data, status=201, message="User banned")
    return ok(data, message="Ban updated")


@router.delete(
    "/{user_id}",
    openapi_extra=access("server", Permission.BAN_MEMBERS),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def unban_user(server_id: str, user_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await bans_service.do_unban(
        session, actor, path_id(server_id, "Server"), path_id(user_id, "Ban")
    )
    return ok(None, message="User unbanned")
