"""`/api/users`: the current user, profiles, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gossip.surfaces.chirp import render
from gossip.surfaces.chirp.deps import CurrentActor, Reader, RuntimeDep, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import (
    NO_NUL,
    UserMeOut,
    UserOut,
    UserSearchOut,
    UserUpdateIn,
)
from gossip.users import service as users_service

router = APIRouter(prefix="/users", tags=["users"])


@router.get(
    "/me",
    openapi_extra=access("user"),
    response_model=Envelope[UserMeOut],
    responses=error_responses(401, 403, 429),
)
async def get_me(actor: CurrentActor, session: Reader) -> JSON:
    user = await users_service.access_user(session, actor.user_id)
    return ok(render.user_me(user))


@router.patch(
    "/me",
    openapi_extra=access("user"),
    response_model=Envelope[UserMeOut],
    responses=error_responses(400, 401, 403, 409, 413, 429),
)
async def update_me(body: UserUpdateIn, actor: CurrentActor, session: Writer) -> JSON:
    user = await users_service.do_update_profile(
        session, actor, users_service.ProfileChanges(**body.model_dump(exclude_unset=True))
    )
    return ok(render.user_me(user), message="Profile updated")


@router.get(
    "/search",
    openapi_extra=access("user"),
    response_model=Envelope[UserSearchOut],
    responses=error_responses(400, 401, 403, 429),
)
async def search_users(
    actor: CurrentActor,
    session: Reader,
    rt: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=32, pattern=NO_NUL)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> JSON:
    found, total = await users_service.search(session, q, limit=limit, offset=offset)
    statuses = await rt.hub.visible_statuses([(u.id, u.status) for u in found])
    return ok(
        {
            "users": [
                {
                    "id": str(u.id),
                    "username": u.username,
                    "avatar": u.avatar,
                    "status": statuses[u.id],
                }
                for u in found
            ],
            "total": total,
            "hasMore": offset + len(found) < total,
        }
    )


@router.get(
    "/{user_id}",
    openapi_extra=access("user"),
    response_model=Envelope[UserOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_user(user_id: str, actor: CurrentActor, session: Reader, rt: RuntimeDep) -> JSON:
    user, mutual = await users_service.profile(session, actor, path_id(user_id, "User"))
    statuses = await rt.hub.visible_statuses([(user.id, user.status)])
    return ok(render.user_public(user, statuses[user.id], mutual))
