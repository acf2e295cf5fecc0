"""`/api` routes for the audit log: every server's for administrators, one server's for its
members with VIEW_AUDIT_LOG."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gossip.audit import service as audit_service
from gossip.kit.errors import ValidationFailed
from gossip.kit.ids import MAX_SNOWFLAKE
from gossip.kit.permissions import Permission
from gossip.surfaces.chirp.admin import AdminCaller
from gossip.surfaces.chirp.deps import CurrentActor, Reader, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Out

router = APIRouter(tags=["audit log"])

IdFilter = Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$", description="an ID")]
Action = Annotated[str | None, Query(pattern=r"^[A-Z_]{1,64}$", description="e.g. MEMBER_BAN_ADD")]
Limit = Annotated[int, Query(ge=1, le=audit_service.MAX_PAGE)]


def _id(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    number = int(value)
    if number > MAX_SNOWFLAKE:
        raise ValidationFailed.field(name, "is not an ID")
    return number


class AuditEntryOut(Out):
    id: str
    action: str
    targetId: str | None
    userId: str | None
    reason: str | None
    createdAt: str
    options: dict[str, Any]
    serverId: str | None


@router.get(
    "/admin/audit-log",
    openapi_extra=access("admin"),
    description="Every audit entry, newest first; `before` an entry ID pages back. "
    "`userId` is who acted (null: the admin key).",
    response_model=Envelope[list[AuditEntryOut]],
    responses=error_responses(400, 401, 403, 429),
)
async def admin_audit_log(
    admin: AdminCaller,
    session: Reader,
    serverId: IdFilter = None,
    userId: IdFilter = None,
    action: Action = None,
    limit: Limit = 50,
    before: IdFilter = None,
) -> JSON:
    return ok(
        await audit_service.list_entries(
            session,
            server_id=_id(serverId, "serverId"),
            user_id=_id(userId, "userId"),
            action=action,
            before=_id(before, "before"),
            limit=limit,
        )
    )


@router.get(
    "/servers/{server_id}/audit-log",
    openapi_extra=access("server", Permission.VIEW_AUDIT_LOG),
    description="The server's audit entries, newest first; `before` an entry ID pages back.",
    response_model=Envelope[list[AuditEntryOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def server_audit_log(
    server_id: str,
    actor: CurrentActor,
    session: Reader,
    userId: IdFilter = None,
    action: Action = None,
    limit: Limit = 50,
    before: IdFilter = None,
) -> JSON:
    return ok(
        await audit_service.list_for_server(
            session,
            actor,
            path_id(server_id, "Server"),
            user_id=_id(userId, "userId"),
            action=action,
            before=_id(before, "before"),
            limit=limit,
        )
    )
