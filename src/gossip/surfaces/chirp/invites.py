"""`/api` routes for invites: creating and listing a server's, previewing, joining, revoking."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from gossip.invites import service as invites_service
from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.deps import (
    CurrentActor,
    Reader,
    Writer,
    check_rate,
    client_ip,
    path_id,
)
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out, UserBriefOut
from gossip.surfaces.chirp.servers import ServerOut

router = APIRouter(tags=["invites"])


class InviteCreateIn(Body):
    maxUses: int = Field(default=0, ge=0, le=invites_service.MAX_USES, description="0: unlimited")
    maxAge: int = Field(
        default=invites_service.DEFAULT_MAX_AGE,
        ge=0,
        le=invites_service.MAX_AGE,
        description="seconds; 0: never expires",
    )
    channelId: str | None = Field(default=None, max_length=20)


class InviteServerOut(Out):
    id: str
    name: str
    icon: str | None
    memberCount: int


class InviteOut(Out):
    code: str
    server: InviteServerOut
    channelId: str | None
    inviter: UserBriefOut | None
    uses: int
    maxUses: int
    maxAge: int
    expiresAt: str | None
    createdAt: str


async def preview_rate(request: Request) -> None:
    # The preview needs no token; count it per address so codes cannot be enumerated.
    await check_rate(request, "general", f"ip:{client_ip(request)}")


@router.post(
    "/servers/{server_id}/invites",
    openapi_extra=access("server", Permission.CREATE_INSTANT_INVITE),
    status_code=201,
    response_model=Envelope[InviteOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def create_invite(
    server_id: str,
    actor: CurrentActor,
    session: Writer,
    body: InviteCreateIn | None = None,
) -> JSON:
    body = body or InviteCreateIn()
    invite = await invites_service.do_create_invite(
        session,
        actor,
        path_id(server_id, "Server"),
        max_uses=body.maxUses,
        max_age=body.maxAge,
        channel_id=body.channelId,
    )
    return ok(invite, status=201, message="Invite created")


@router.get(
    "/servers/{server_id}/invites",
    openapi_extra=access("server", Permission.MANAGE_GUILD),
    response_model=Envelope[list[InviteOut]],
    responses=error_responses(401, 403, 404, 429),
)
async def list_invites(server_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(await invites_service.list_invites(session, actor, path_id(server_id, "Server")))


@router.get(
    "/invites/{code}",
    openapi_extra=access("public"),
    response_model=Envelope[InviteOut],
    responses=error_responses(404, 429),
    dependencies=[Depends(preview_rate)],
)
async def preview_invite(code: str, session: Reader) -> JSON:
    return ok(await invites_service.access_invite_preview(session, code))


@router.post(
    "/invites/{code}",
    openapi_extra=access("user"),
    response_model=Envelope[ServerOut],
    # 409: two concurrent joins of the same user; the loser is told it already happened.
    responses=error_responses(400, 401, 403, 404, 409, 429),
)
async def accept_invite(code: str, actor: CurrentActor, session: Writer) -> JSON:
    return ok(await invites_service.do_accept(session, actor, code), message="Joined the server")


@router.delete(
    "/invites/{code}",
    openapi_extra=access("server", Permission.MANAGE_GUILD, or_author=True),
    description="The invite's creator, or anyone with MANAGE_GUILD in its server.",
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_invite(code: str, actor: CurrentActor, session: Writer) -> JSON:
    await invites_service.do_delete_invite(session, actor, code)
    return ok(None, message="Invite deleted")
