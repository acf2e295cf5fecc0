"""The canonical JSON shapes of a server: the `/api` representation, which events carry too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gossip.db.models import Server
from gossip.kit.permissions import to_wire
from gossip.kit.timefmt import iso


def server(server: Server, *, member_count: int, channel_count: int) -> dict[str, Any]:
    """What every member may know about the server (the SERVER_UPDATE payload)."""
    return {
        "id": str(server.id),
        "name": server.name,
        "icon": server.icon,
        "banner": server.banner,
        "description": server.description,
        "ownerId": str(server.owner_id),
        "memberCount": member_count,
        "channelCount": channel_count,
        # Custom emojis do not exist yet.
        "emojiCount": 0,
        "boostLevel": server.boost_level,
        "features": list(server.features or []),
    }


def server_for_member(
    server_data: dict[str, Any], *, permissions: int, joined_at: datetime
) -> dict[str, Any]:
    """`server` plus what only the asking member sees: their permissions and join time."""
    return {**server_data, "permissions": to_wire(permissions), "joinedAt": iso(joined_at)}
