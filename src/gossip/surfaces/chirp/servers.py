"""`/api/servers`: the caller's servers; create, read, update, delete one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from gossip.kit.permissions import to_wire
from gossip.servers import repository as servers_repository
from gossip.servers import service as servers_service
from gossip.surfaces.chirp import render
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out

router = APIRouter(prefix="/servers", tags=["servers"])


class ServerCreateIn(Body):
    name: str = Field(min_length=2, max_length=100)
    region: str | None = Field(default=None, max_length=64)
    icon: str | None = Field(default=None, max_length=512)


class ServerCreatedOut(Out):
    id: str
    name: str
    icon: str | None
    ownerId: str
    createdAt: str


class ServerListItemOut(Out):
    id: str
    name: str
    icon: str | None
    ownerId: str
    memberCount: int
    isOwner: bool
    permissions: str
    joinedAt: str


@router.get(
    "",
    openapi_extra=access("user"),
    response_model=Envelope[list[ServerListItemOut]],
    responses=error_responses(401, 429),
)
async def list_servers(actor: CurrentActor, session: Reader) -> JSON:
    from gossip.access.service import access_server

    items: list[dict[str, Any]] = []
    for membership in await servers_repository.memberships(session, actor.user_id):
        server = membership.server
        access = await access_server(session, actor, server.id)
        items.append(
            {
                "id": str(server.id),
                "name": server.name,
                "icon": server.icon,
                "ownerId": str(server.owner_id),
                "memberCount": membership.member_count,
                "isOwner": server.owner_id == actor.user_id,
                "permissions": to_wire(access.permissions),
                "joinedAt": render.iso(membership.joined_at),
            }
        )
    return ok(items)


@router.post(
    "",
    openapi_extra=access("user"),
    status_code=201,
    response_model=Envelope[ServerCreatedOut],
    responses=error_responses(400, 401, 413, 429),
)
async def create_server(body: ServerCreateIn, actor: CurrentActor, session: Writer) -> JSON:
    server = await servers_service.do_create_server(
        session, actor, name=body.name, region=body.region, icon=body.icon
    )
    return ok(
        {
            "id": str(server.id),
            "name": server.name,
            "icon": server.icon,
            "ownerId": str(server.owner_id),
            "createdAt": render.created(server.id),
        },
        status=201,
        message="Server created",
    )
