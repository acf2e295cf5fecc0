"""`GET /v1/profiles/{username}`: a public profile.

Live keys read Gossip's accounts (public fields only: what any signed-in user sees of
another); test keys read the sandbox (gossip.developer.sandbox), never live accounts.
Gossip has no follower graph or buzzes yet, so a live profile's `followers` and `buzzes`
are null, and `verified` is false (docs/developer.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gossip.developer import repository as developer_repository
from gossip.developer import sandbox
from gossip.kit.errors import NotFound
from gossip.kit.ids import snowflake_time
from gossip.kit.timefmt import iso
from gossip.surfaces.v1.deps import ApiKey, Reader
from gossip.surfaces.v1.pagination import public_id
from gossip.surfaces.v1.render import JSON, error_responses
from gossip.surfaces.v1.schemas import ProfileOut

router = APIRouter(tags=["v1 profiles"])


@router.get(
    "/profiles/{username}",
    response_model=ProfileOut,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def get_profile(
    username: Annotated[str, Path(max_length=64, pattern=r"^[^\x00/]+$")],
    key: ApiKey,
    session: Reader,
) -> JSON:
    if not key.live:
        found = sandbox.profile(username)
        if found is None:
            raise NotFound("Profile")
        return JSON(found)
    user = await developer_repository.user_by_name(session, username)
    if user is None or user.disabled or "#" in user.username:
        raise NotFound("Profile")  # '#': reserved system accounts, not profiles
    return JSON(
        {
            "id": public_id("p", user.id),
            "username": user.username,
            "full_name": user.username,
            "category": "bot" if user.bot else "personal",
            "bio": user.bio,
            "avatar": user.avatar,
            "followers": None,
            "buzzes": None,
            "verified": False,
            "created_at": iso(snowflake_time(user.id)),
            "sandbox": False,
        }
    )
