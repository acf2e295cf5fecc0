"""`/api/developer`: the dashboard's API for a signed-in user's developer API keys.

The secret of a key is in the answer to its creation and nowhere else, ever: only its
SHA-256 digest is stored; afterwards the key shows its prefix (`gsk_live_AbCd`) and last
four characters. Revoking takes effect on the next /v1 request, in every process (keys are
checked in the database on every request). Another account's key is 404.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import Field

from gossip.db.models import User
from gossip.developer import pricing
from gossip.developer import service as developer
from gossip.kit.errors import ValidationFailed
from gossip.kit.timefmt import utcnow
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out
from gossip.users import repository as users

router = APIRouter(prefix="/developer", tags=["developer"])

MAX_KEYS = 50  # unrevoked ones; revoked keys stay listed with their history


class KeyIn(Body):
    mode: Literal["live", "test"] = "test"
    name: str | None = Field(default=None, min_length=1, max_length=80)


class KeyOut(Out):
    id: str
    name: str | None
    mode: str
    prefix: str
    last4: str
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None


class NewKeyOut(KeyOut):
    secret: str


class KeysOut(Out):
    keys: list[KeyOut]
    plan: str
    dailyLimit: int


@router.post(
    "/keys",
    openapi_extra=access("user"),
    description="Creates an API key. The answer holds the full secret, shown this once.",
    response_model=Envelope[NewKeyOut],
    status_code=201,
    responses=error_responses(400, 401, 403, 409, 413, 429),
)
async def create_key(body: KeyIn, actor: CurrentActor, session: Writer) -> JSON:
    existing = await developer.list_keys(session, actor.user_id)
    if sum(1 for k in existing if k.revoked_at is None) >= MAX_KEYS:
        raise ValidationFailed(f"An account has at most {MAX_KEYS} unrevoked API keys")
    key, secret = await developer.do_create_key(session, actor.user_id, body.mode, body.name)
    data = developer.key_view(key)
    data["secret"] = secret
    return ok(data, status=201, message="API key created: store the secret now")


@router.get(
    "/keys",
    openapi_extra=access("user"),
    description="The account's keys, newest first, with their plan's daily limit.",
    response_model=Envelope[KeysOut],
    responses=error_responses(401, 403, 429),
)
async def list_keys(actor: CurrentActor, session: Reader) -> JSON:
    keys = await developer.list_keys(session, actor.user_id)
    user: User | None = await users.get(session, actor.user_id)
    plan = user.plan if user is not None else "free"
    limit = pricing.daily_limit(plan, user.plan_daily_limit if user is not None else None)
    return ok({"keys": [developer.key_view(k) for k in keys], "plan": plan, "dailyLimit": limit})


@router.delete(
    "/keys/{key_id}",
    openapi_extra=access("user"),
    description="Revokes a key at once. Revoking a revoked key changes nothing.",
    response_model=Envelope[KeyOut],
    responses=error_responses(401, 403, 404, 429),
)
async def revoke_key(key_id: str, actor: CurrentActor, session: Writer) -> JSON:
    key = await developer.do_revoke_key(
        session, actor.user_id, developer.parse_key_id(key_id), utcnow()
    )
    return ok(developer.key_view(key), message="API key revoked")
