"""Rules for user accounts and profiles."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth.subject import Actor
from gossip.db.models import User
from gossip.events import Audience, emit
from gossip.kit.errors import AlreadyExists, NotFound, ValidationFailed
from gossip.users import repository

STATUSES = ("online", "idle", "dnd", "invisible")
RESERVED_NAMES = {"everyone", "here"}


def check_username(raw: str, field: str = "username") -> str:
    """Usernames are shown everywhere and mentioned as @name: no control characters, no
    characters that delimit mentions, and not the names of mass mentions."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not 3 <= len(name) <= 32:
        raise ValidationFailed.field(field, "must be 3-32 characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name) or any(
        ch in name for ch in "@#:`"
    ):
        raise ValidationFailed.field(field, "contains characters that are not allowed")
    if name.lower() in RESERVED_NAMES:
        raise ValidationFailed.field(field, "is reserved")
    return name


async def access_user(session: AsyncSession, user_id: int | None) -> User:
    user = await repository.get(session, user_id) if user_id else None
    if user is None:
        raise NotFound("User")
    return user


async def get_many(session: AsyncSession, user_ids: list[int]) -> list[User]:
    """The users that exist among these IDs, in no particular order: one query."""
    return await repository.get_many(session, user_ids)


async def search(
    session: AsyncSession, query: str, *, limit: int, offset: int
) -> tuple[list[User], int]:
    """Users whose name starts with `query`, case-insensitively, and how many there are."""
    return await repository.search(session, query.strip(), limit=limit, offset=offset)


async def profile(
    session: AsyncSession, actor: Actor, user_id: int | None
) -> tuple[User, list[int]]:
    """Another user's public profile and the servers the actor shares with them."""
    user = await access_user(session, user_id)
    return user, await repository.mutual_server_ids(session, actor.user_id, user.id)


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    username: str | None = None
    bio: str | None = None
    status: str | None = None
    avatar: str | None = None
    banner: str | None = None


async def do_update_profile(session: AsyncSession, actor: Actor, changes: ProfileChanges) -> User:
    """Applies the given fields; emits USER_UPDATE to the user's own connections."""
    values: dict[str, object] = {}
    if changes.username is not None:
        name = check_username(changes.username)
        if await repository.username_taken(session, name, except_id=actor.user_id):
            raise AlreadyExists("Username already taken")
        values["username"] = name
    if changes.bio is not None:
        if len(changes.bio) > 500:
            raise ValidationFailed.field("bio", "must be at most 500 characters")
        values["bio"] = changes.bio
    if changes.status is not None:
        if changes.status not in STATUSES:
            raise ValidationFailed.field("status", f"must be one of {', '.join(STATUSES)}")
        values["status"] = changes.status
    for field in ("avatar", "banner"):
        value = getattr(changes, field)
        if value is not None:
            values[field] = value or None
    if values:
        await repository.set_fields(session, actor.user_id, **values)
    user = await access_user(session, actor.user_id)
    await session.refresh(user)
    emit(
        session,
        "USER_UPDATE",
        {"id": str(user.id), "username": user.username, "avatar": user.avatar},
        Audience(user_ids=(user.id,)),
    )
    return user
