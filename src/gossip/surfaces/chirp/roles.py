"""`/api` routes for a server's roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Body as BodyParam
from pydantic import Field, StrictInt, StrictStr

from gossip.kit.errors import ValidationFailed
from gossip.kit.ids import parse_id
from gossip.kit.permissions import Permission
from gossip.roles import service as roles_service
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out

router = APIRouter(prefix="/servers/{server_id}/roles", tags=["roles"])

MAX_COLOR = 0xFFFFFF
# A bitfield as a decimal string (the wire form) or, leniently, a JSON integer.
PermissionsField = StrictStr | StrictInt | None


class RoleOut(Out):
    id: str
    name: str
    color: int
    hoist: bool
    mentionable: bool
    position: int
    permissions: str = Field(description="Decimal permission bitfield")
    managed: bool


class RoleIn(Body):
    """Absent fields get defaults on creation and stay as they are on update."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    color: StrictInt | None = Field(default=None, ge=0, le=MAX_COLOR)
    hoist: bool | None = None
    mentionable: bool | None = None
    permissions: PermissionsField = Field(
        default=None, description='Decimal permission bitfield, e.g. "104324673"'
    )


class RolePositionIn(Body):
    id: str = Field(max_length=20)
    position: int = Field(ge=1, le=1000)


def _fields(body: RoleIn) -> roles_service.RoleFields:
    return roles_service.RoleFields(**body.model_dump(exclude_none=True))


@router.get(
    "",
    openapi_extra=access("server"),
    response_model=Envelope[list[RoleOut]],
    responses=error_responses(401, 403, 404, 429),
)
async def list_roles(server_id: str, actor: CurrentActor, session: Reader) -> JSON:
    return ok(await roles_service.list_roles(session, actor, path_id(server_id, "Server")))


@router.post(
    "",
    openapi_extra=access("server", Permission.MANAGE_ROLES),
    status_code=201,
    response_model=Envelope[RoleOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def create_role(
    server_id: str,
    actor: CurrentActor,
    session: Writer,
    body: RoleIn | None = None,
) -> JSON:
    role = await roles_service.do_create_role(
        session, actor, path_id(server_id, "Server"), _fields(body or RoleIn())
    )
    return ok(role, status=201, message="Role created")


@router.patch(
    "",
    openapi_extra=access("server", Permission.MANAGE_ROLES),
    description="Moves roles: `[{id, position}]`; the others shift to make room.",
    response_model=Envelope[list[RoleOut]],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def reorder_roles(
    server_id: str,
    body: Annotated[list[RolePositionIn], BodyParam(min_length=1, max_length=250)],
    actor: CurrentActor,
    session: Writer,
) -> JSON:
    moves = []
    for index, item in enumerate(body):
        role_id = parse_id(item.id)
        if role_id is None:
            raise ValidationFailed.field(f"{index}.id", "must be a role ID")
        moves.append(roles_service.Move(role_id, item.position))
    roles = await roles_service.do_reorder_roles(
        session, actor, path_id(server_id, "Server"), moves
    )
    return ok(roles, message="Roles reordered")


@router.patch(
    "/{role_id}",
    openapi_extra=access("server", Permission.MANAGE_ROLES),
    response_model=Envelope[RoleOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def update_role(
    server_id: str, role_id: str, body: RoleIn, actor: CurrentActor, session: Writer
) -> JSON:
    role = await roles_service.do_update_role(
        session, actor, path_id(server_id, "Server"), path_id(role_id, "Role"), _fields(body)
    )
    return ok(role, message="Role updated")


@router.delete(
    "/{role_id}",
    openapi_extra=access("server", Permission.MANAGE_ROLES),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def delete_role(server_id: str, role_id: str, actor: CurrentActor, session: Writer) -> JSON:
    await roles_service.do_delete_role(
        session, actor, path_id(server_id, "Server"), path_id(role_id, "Role")
    )
    return ok(None, message="Role deleted")
