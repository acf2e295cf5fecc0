"""Spec 002's wire shapes: users, messages, DM channels and its `null` error body.

Spec 002 always shows `avatarURL` as a string, so an account without an avatar shows ""
(and sending "" back clears it).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from gossip.channels.service import ChannelView
from gossip.db.models import User
from gossip.kit.errors import GossipError, RateLimited
from gossip.messages.service import MessageView

NULL = b"null"


def null(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(NULL, status_code=status, media_type="application/json", headers=headers)


def render_error(error: GossipError) -> Response:
    """Every failure is its status code with the body `null`, as spec 002 writes them."""
    headers = error.headers if isinstance(error, RateLimited) else None
    return null(error.status, headers)


def user(found: User) -> dict[str, Any]:
    return {"avatarURL": found.avatar or "", "id": str(found.id), "username": found.username}


def other_user(view: ChannelView, viewer_id: int) -> User | None:
    """The one other participant of a one-to-one DM."""
    return next((u for u in view.participants if u.id != viewer_id), None)


def message(view: MessageView) -> dict[str, Any]:
    row = view.message
    author = view.users.get(row.author_id)
    return {
        "content": row.content,
        "author": {
            "avatarURL": (author.avatar if author else None) or "",
            "username": author.username if author else "Deleted User",
            "id": str(row.author_id),
        },
        "id": str(row.id),
        "channel_id": str(row.channel_id),
    }


def message_event(data: dict[str, Any]) -> dict[str, Any]:
    """A MESSAGE_CREATE event's payload (the Chirp message) as spec 002's `message`."""
    author = data.get("author") or {}
    return {
        "author": {
            "avatarURL": author.get("avatar") or "",
            "id": author.get("id"),
            "username": author.get("username"),
        },
        "channel_id": data.get("channelId"),
        "content": data.get("content", ""),
        "id": data.get("id"),
    }
