"""The wire shape of a message: what `/api` returns and what MESSAGE_* events carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gossip.db.models import Message, User
from gossip.kit.ids import snowflake_time
from gossip.kit.timefmt import iso
from gossip.reactions.repository import ReactionSummary


def user(found: User | None, user_id: int) -> dict[str, Any]:
    if found is None:  # kept for robustness: authors are never deleted today
        return {"id": str(user_id), "username": "Deleted User", "avatar": None, "bot": False}
    return {
        "id": str(found.id),
        "username": found.username,
        "avatar": found.avatar,
        "bot": found.bot,
    }


def emoji(value: str) -> dict[str, Any]:
    """Discord's emoji object: a custom emoji `name:id` has both, a unicode one a name."""
    name, sep, emoji_id = value.rpartition(":")
    if sep and emoji_id.isdigit() and name:
        return {"id": emoji_id, "name": name}
    return {"id": None, "name": value}


def message(
    row: Message, users: Mapping[int, User], reactions: Sequence[ReactionSummary] = ()
) -> dict[str, Any]:
    mentioned = (users.get(int(u)) for u in row.mentions or ())
    return {
        "id": str(row.id),
        "channelId": str(row.channel_id),
        "author": user(users.get(row.author_id), row.author_id),
        "content": row.content,
        "timestamp": iso(snowflake_time(row.id)),
        "editedTimestamp": iso(row.edited_at),
        "mentions": [user(u, u.id) for u in mentioned if u is not None],
        "mentionRoles": list(row.mention_roles or ()),
        "mentionEveryone": row.mention_everyone,
        "attachments": [],
        "embeds": list(row.embeds or ()),
        "reactions": [{"emoji": emoji(r.emoji), "count": r.count, "me": r.me} for r in reactions],
        "pinned": row.pinned,
        "type": row.type,
        "tts": row.tts,
    }
