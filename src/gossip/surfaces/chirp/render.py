"""Chirp's JSON shapes for domain objects. IDs go out as strings (spec 003)."""

from __future__ import annotations

from typing import Any

from gossip.db.models import Server, User
from gossip.kit.ids import snowflake_time
from gossip.kit.timefmt import iso

__all__ = ["created", "iso", "user_brief", "user_me", "user_public"]


def created(snowflake: int) -> str:
    return iso(snowflake_time(snowflake)) or ""


def server_created(server: Server) -> dict[str, Any]:
    """What creating a server answers, whether the request came as JSON or as a form."""
    return {
        "id": str(server.id),
        "name": server.name,
        "icon": server.icon,
        "ownerId": str(server.owner_id),
        "createdAt": created(server.id),
    }


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


def user_public(user: User, status: str, mutual_servers: list[int] | None = None) -> dict[str, Any]:
    """Another user as others see them; `status` comes from presence (offline unless
    connected, and invisible shows as offline)."""
    data = {
        "id": str(user.id),
        "username": user.username,
        "avatar": user.avatar,
        "banner": user.banner,
        "bio": user.bio,
        "status": status,
        "flags": user.flags,
        "bot": user.bot,
        "createdAt": created(user.id),
    }
    if mutual_servers is not None:
        data["mutualServers"] = [str(s) for s in mutual_servers]
    return data
