"""`/api/admin` routes: platform statistics and accounts, for administrators.

Callers are administrator accounts (`gossip create-admin`) with their access token, or
anyone presenting `X-Admin-Key` equal to GOSSIP_ADMIN_KEY. Either way the spec's admin
rate limit applies (GOSSIP_RATE_LIMIT_ADMIN): per account, or per address for the key,
counted before the key is compared so that it cannot be guessed quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from pydantic import Field

from gossip.admin import service as admin_service
from gossip.auth import service as auth_service
from gossip.developer import service as developer_service
from gossip.kit.errors import NotFound, Unauthorized
from gossip.kit.timefmt import utcnow
from gossip.surfaces.chirp.deps import (
    Reader,
    Writer,
    bearer,
    check_rate,
    client_ip,
    get_runtime,
    path_id,
)
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out
from gossip.users import repository as users_repository

router = APIRouter(prefix="/admin", tags=["admin"])

admin_key_header = APIKeyHeader(
    name="X-Admin-Key",
    auto_error=False,
    description="GOSSIP_ADMIN_KEY; instead of an administrator's access token",
)


@dataclass(frozen=True, slots=True)
class Admin:
    """Who administers: an administrator account, or None for the admin key."""

    user_id: int | None


async def admin_caller(
    request: Request,
    key: Annotated[str | None, Depends(admin_key_header)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Admin:
    runtime = get_runtime(request)
    if key is not None:
        await check_rate(request, "admin", f"ip:{client_ip(request)}")
        admin_service.check_admin_key(key, runtime.settings.admin_key)
        return Admin(None)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    async with runtime.db.read_session() as session:
        actor = await auth_service.authenticate(session, runtime.tokens, credentials.credentials)
    request.state.actor = actor
    await check_rate(request, "admin", f"user:{actor.user_id}")
    admin_service.require_admin(actor)
    return Admin(actor.user_id)


AdminCaller = Annotated[Admin, Depends(admin_caller)]


class UsersStatsOut(Out):
    total: int
    activeToday: int
    newThisMonth: int


class ServersStatsOut(Out):
    total: int
    activeToday: int


class MessagesStatsOut(Out):
    today: int
    thisWeek: int


class StorageStatsOut(Out):
    totalUsed: str
    filesTotal: int
    totalBytes: int


class StatsOut(Out):
    users: UsersStatsOut
    servers: ServersStatsOut
    messages: MessagesStatsOut
    storage: StorageStatsOut


class AccountIn(Body):
    disabled: bool


class AccountOut(Out):
    id: str
    username: str
    email: str | None
    bot: bool
    isAdmin: bool
    disabled: bool
    createdAt: str


@router.get(
    "/stats",
    openapi_extra=access("admin"),
    description="Platform figures. Days, weeks (from Monday) and months are UTC calendar "
    "ones; active users sent a message or logged in that day (docs/admin.md).",
    response_model=Envelope[StatsOut],
    responses=error_responses(401, 403, 429),
)
async def get_stats(admin: AdminCaller, session: Reader) -> JSON:
    return ok(await admin_service.stats(session, utcnow()))


@router.patch(
    "/users/{user_id}",
    openapi_extra=access("admin"),
    description="Disables an account (every login of it ends at once) or enables it again.",
    response_model=Envelope[AccountOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def set_account(user_id: str, body: AccountIn, admin: AdminCaller, session: Writer) -> JSON:
    data = await admin_service.do_set_disabled(
        session, admin.user_id, path_id(user_id, "User"), body.disabled
    )
    return ok(data, message="Account disabled" if body.disabled else "Account enabled")


class PlanIn(Body):
    plan: Literal["free", "pro", "scale"]
    dailyLimit: int | None = Field(default=None, ge=1, le=10**12)


class PlanOut(Out):
    userId: str
    plan: str
    dailyLimit: int


@router.put(
    "/users/{user_id}/plan",
    openapi_extra=access("admin"),
    description="Sets the account's developer API plan (issue 5). `dailyLimit` (requests "
    "per key per UTC day) is required for scale and refused for free and pro, whose caps "
    "are fixed. Takes effect on the account's next /v1 request.",
    response_model=Envelope[PlanOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def set_plan(user_id: str, body: PlanIn, admin: AdminCaller, session: Writer) -> JSON:
    user = await users_repository.get(session, path_id(user_id, "User"))
    if user is None:
        raise NotFound("User")
    data = await developer_service.do_set_plan(session, user, body.plan, body.dailyLimit)
    return ok(data, message="Plan updated")
