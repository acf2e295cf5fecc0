"""`/api/servers`: the caller's servers; create, read, update, delete one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from gossip.kit.permissions import Permission
from gossip.servers import service as servers_service
from gossip.surfaces.chirp import render
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
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


class ServerUpdateIn(Body):
    """Absent fields stay as they are; null (or "") clears icon, banner and description."""

    name: str | None = Field(default=None, min_length=2, max_length=100)
    icon: str | None = Field(default=None, max_length=512)
    banner: str | None = Field(default=None, max_length=512)
    description: str | None = Field(default=None, max_length=1024)
    features: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=20)


class ServerOut(Out):
    id: str
    name: str
    icon: str | None
    banner: str | None
    description: str | None
    ownerId: str
    memberCount: int
    channelCount: int
    emojiCount: int
    boostLevel: int
    features: list[str]
    permissions: str = Field(description="The caller's permissions, a decimal bitfield")
    joinedAt: str


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
    responses=error_responses(401, 403, 429),
)
async def list_servers(actor: CurrentActor, session: Reader) -> JSON:
    return ok(await servers_service.list_servers(session, actor))


@router.post(
    "",
    openapi_extra=access("user"),
    status_code=201,
    response_model=Envelope[ServerCreatedOut],
    responses=error_responses(400, 401, 403, 413, 429),
)
async def create_server(body: ServerCreateIn, actor: CurrentActor, session: Writer) -> JSON:
    server = await servers_service.do_create_server(
        session, actor, name=body.name, region=body.region, icon=body.icon
    )
    return ok(render.server_created(server), status=201, message="Server created")


@router.get(
    "/{server_id}",
    openapi_extra=access("server"),
    response_model=Envelope[ServerOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_server(server_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(
        await servers_service.access_server_details(session, actor, path_id(server_id, "Server"))
    )


@router.patch(
    "/{server_id}",
    openapi_extra=access("server", Permission.MANAGE_GUILD),
    response_model=Envelope[ServerOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def update_server(
    server_id: str, body: ServerUpdateIn, actor: CurrentActor, session: Writer
) -> JSON:
    given = body.model_fields_set
    changes = servers_service.ServerChanges(
        given=frozenset(given), **body.model_dump(include=given)
    )
    data = await servers_service.do_update_server(
        session, actor, path_id(server_id, "Server"), changes
    )
    return ok(data, message="Server updated")


@router.delete(
    "/{server_id}",
    openapi_extra=access("owner"),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_server(server_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await servers_service.do_delete_server(session, actor, path_id(server_id, "Server"))
    return ok(None, message="Server deleted")
