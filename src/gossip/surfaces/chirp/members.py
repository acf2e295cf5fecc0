"""`/api` routes for server members: listing, nicknames, roles, kicks, and leaving."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from gossip.kit.errors import ValidationFailed
from gossip.kit.ids import parse_id
from gossip.kit.permissions import Permission
from gossip.members import service as members_service
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import NO_NUL, Body, Out, UserBriefOut

router = APIRouter(tags=["members"])

ME = "@me"


class MemberOut(Out):
    user: UserBriefOut
    roles: list[str]
    joinedAt: str
    premiumSince: str | None
    nickname: str | None
    pending: bool
    permissions: str = Field(description="The member's server-level permissions, decimal")


class MemberUpdateIn(Body):
    nickname: str | None = Field(default=None, max_length=32, description='null or "" clears')


def member_id(value: str, actor: CurrentActor) -> int:
    """A user ID from the path; `@me` is the caller."""
    return actor.user_id if value == ME else path_id(value, "Member")


def cursor(value: str | None, field: str) -> int:
    """An `after` cursor: a user ID, or 0 / absent for the first page."""
    if value is None or value == "0":
        return 0
    parsed = parse_id(value)
    if parsed is None:
        raise ValidationFailed.field(field, "must be a user ID")
    return parsed


@router.get(
    "/servers/{server_id}/members",
    openapi_extra=access("server"),
    response_model=Envelope[list[MemberOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_members(
    server_id: str,
    actor: CurrentActor,
    session: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    after: Annotated[str | None, Query(max_length=20, description="a user ID")] = None,
    query: Annotated[
        str | None,
        Query(max_length=32, pattern=NO_NUL, description="username or nickname prefix"),
    ] = None,
) -> JSON:
    return ok(
        await members_service.list_members(
            session,
            actor,
            path_id(server_id, "Server"),
            after=cursor(after, "after"),
            limit=limit,
            query=query,
        )
    )


@router.get(
    "/servers/{server_id}/members/{user_id}",
    openapi_extra=access("server"),
    response_model=Envelope[MemberOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_member(server_id: str, user_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(
        await members_service.access_member(
            session, actor, path_id(server_id, "Server"), member_id(user_id, actor)
        )
    )


@router.patch(
    "/servers/{server_id}/members/{user_id}",
    openapi_extra=access("server", Permission.MANAGE_NICKNAMES),
    description="Sets a nickname. Members change their own (`@me`) with CHANGE_NICKNAME.",
    response_model=Envelope[MemberOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def update_member(
    server_id: str, user_id: str, body: MemberUpdateIn, actor: CurrentActor, session: Writer
) -> JSON:
    sid, uid = path_id(server_id, "Server"), member_id(user_id, actor)
    if "nickname" not in body.model_fields_set:
        return ok(await members_service.access_member(session, actor, sid, uid))
    data = await members_service.do_set_nickname(session, actor, sid, uid, body.nickname)
    return ok(data, message="Member updated")


@router.delete(
    "/servers/{server_id}/members/{user_id}",
    openapi_extra=access("server", Permission.KICK_MEMBERS),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def kick_member(server_id: str, user_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await members_service.do_kick(
        session, actor, path_id(server_id, "Server"), member_id(user_id, actor)
    )
    return ok(None, message="Member kicked")


@router.put(
    "/servers/{server_id}/members/{user_id}/roles/{role_id}",
    openapi_extra=access("server", Permission.MANAGE_ROLES),
    response_model=Envelope[MemberOut],
    responses=error_responses(400, 401, 403, 404, 409, 429),
)
async def add_member_role(
    server_id: str, user_id: str, role_id: str, actor: CurrentActor, session: Writer
) -> JSON:
    data = await members_service.do_add_role(
        session,
        actor,
        path_id(server_id, "Server"),
        member_id(user_id, actor),
        path_id(role_id, "Role"),
    )
    return ok(data, message="Role added")


@router.delete(
    "/servers/{server_id}/members/{user_id}/roles/{role_id}",
    openapi_extra=access("server", Permission.MANAGE_ROLES),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def remove_member_role(
    server_id: str, user_id: str, role_id: str, actor: CurrentActor, session: Writer
) -> JSON:
    await members_service.do_remove_role(
        session,
        actor,
        path_id(server_id, "Server"),
        member_id(user_id, actor),
        path_id(role_id, "Role"),
    )
    return ok(None, message="Role removed")


@router.delete(
    "/users/me/servers/{server_id}",
    openapi_extra=access("server"),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def leave_server(server_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await members_service.do_leave(session, actor, path_id(server_id, "Server"))
    return ok(None, message="Left the server")
