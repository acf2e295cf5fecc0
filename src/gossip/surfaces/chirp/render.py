"""Chirp's JSON shapes for domain objects. IDs go out as strings (spec 003)."""

from __future__ import annotations

from typing import Any

from gossip.db.models import User
from gossip.kit.ids import snowflake_time
from gossip.kit.timefmt import iso

__all__ = ["created", "iso", "user_brief", "user_me", "user_public", "visible_status"]


def created(snowflake: int) -> str:
    return iso(snowflake_time(snowflake)) or ""


def user_brief(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "username": user.username, "avatar": user.avatar, "bot": user.bot}


def user_me(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "email": user.email,
        "avatar": user.avatar,
        "banner": user.banner,
        "bio": user.bio,
        "status": user.status,
        "flags": user.flags,
        "bot": user.bot,
        "createdAt": created(user.id),
    }


def visible_status(user: User) -> str:
    # Invisible users appear offline to others; realtime presence refines this.
    return "offline" if user.status == "invisible" else user.status


def user_public(user: User, mutual_servers: list[int] | None = None) -> dict[str, Any]:
    data = {
        "id": str(user.id),
        "username": user.username,
        "avatar": user.avatar,
        "banner": user.banner,
        "bio": user.bio,
        "status": visible_status(user),
        "flags": user.flags,
        "bot": user.bot,
        "createdAt": created(user.id),
    }
    if mutual_servers is not None:
        data["mutualServers"] = [str(s) for s in mutual_servers]
    return data
