"""The wire shape of a channel: what `/api` returns and what CHANNEL_* events carry.

It lives beside the service rather than in the surface because an event's payload must be
exactly the REST representation, and services (which emit events) never import surfaces.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gossip.db.models import Channel, PermissionOverwrite, User
from gossip.kit.ids import snowflake_time
from gossip.kit.permissions import to_wire
from gossip.kit.timefmt import iso

VOICE = 2  # channels.service.VOICE, which imports this module


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def overwrite(row: PermissionOverwrite) -> dict[str, Any]:
    return {
        "id": str(row.target_id),
        "type": row.type,
        "allow": to_wire(row.allow),
        "deny": to_wire(row.deny),
    }


def server_channel(channel: Channel, overwrites: Iterable[PermissionOverwrite]) -> dict[str, Any]:
    return {
        "id": str(channel.id),
        "name": channel.name,
        "type": channel.type,
        "topic": channel.topic,
        "parentId": _id(channel.parent_id),
        "position": channel.position,
        "permissionOverwrites": [overwrite(o) for o in overwrites],
        "nsfw": channel.nsfw,
        "lastMessageId": _id(channel.last_message_id),
        "createdAt": iso(snowflake_time(channel.id)),
        "serverId": _id(channel.server_id),
        # Voice channels only, as in Discord: 0 means no limit.
        **({"userLimit": channel.user_limit} if channel.type == VOICE else {}),
    }


def recipient(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "username": user.username, "avatar": user.avatar}


def dm_channel(channel: Channel, participants: Iterable[User], viewer_id: int) -> dict[str, Any]:
    """A DM as one participant sees it: the recipients are everyone but them."""
    last = channel.last_message_id
    return {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "ownerId": _id(channel.owner_id),
        "recipients": [recipient(u) for u in participants if u.id != viewer_id],
        "lastMessageId": _id(last),
        "lastMessageTimestamp": iso(snowflake_time(last)) if last else None,
        "createdAt": iso(snowflake_time(channel.id)),
    }
