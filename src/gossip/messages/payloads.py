"""The wire shape of a message: what `/api` returns and what MESSAGE_* events carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from gossip.kit.ids import snowflake_time
from gossip.kit.timefmt import iso
from gossip.reactions.repository import ReactionSummary
from gossip.users.repository import UserBrief


class MessageRow(Protocol):
    """A stored message: the ORM's `Message` as read, or a `NewMessage` just inserted."""

    @property
    def id(self) -> int: ...
    @property
    def channel_id(self) -> int: ...
    @property
    def author_id(self) -> int: ...
    @property
    def content(self) -> str: ...
    @property
    def type(self) -> int: ...
    @property
    def tts(self) -> bool: ...
    @property
    def pinned(self) -> bool: ...
    @property
    def mention_everyone(self) -> bool: ...
    @property
    def mentions(self) -> list[str] | None: ...
    @property
    def mention_roles(self) -> list[str] | None: ...
    @property
    def embeds(self) -> list[dict[str, Any]] | None: ...
    @property
    def attachments(self) -> list[dict[str, Any]] | None: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def webhook_id(self) -> int | None: ...
    @property
    def webhook_username(self) -> str | None: ...
    @property
    def webhook_avatar(self) -> str | None: ...


def user(found: UserBrief | None, user_id: int) -> dict[str, Any]:
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
    row: MessageRow, users: Mapping[int, UserBrief], reactions: Sequence[ReactionSummary] = ()
) -> dict[str, Any]:
    mentioned = (users.get(int(u)) for u in row.mentions or ())
    return {
        "id": str(row.id),
        "channelId": str(row.channel_id),
        "author": author(row, users),
        "content": row.content,
        "timestamp": iso(snowflake_time(row.id)),
        "editedTimestamp": iso(row.edited_at),
        "mentions": [user(u, u.id) for u in mentioned if u is not None],
        "mentionRoles": list(row.mention_roles or ()),
        "mentionEveryone": row.mention_everyone,
        "attachments": list(row.attachments or ()),
        "embeds": list(row.embeds or ()),
        "reactions": [{"emoji": emoji(r.emoji), "count": r.count, "me": r.me} for r in reactions],
        "pinned": row.pinned,
        "type": row.type,
        "tts": row.tts,
        **webhook_fields(row),
    }


def author(row: MessageRow, users: Mapping[int, UserBrief]) -> dict[str, Any]:
    """A webhook's message shows the webhook as that execution named it, marked as a bot
    (Discord's shape: the webhook's ID as the author's)."""
    if row.webhook_id is None:
        return user(users.get(row.author_id), row.author_id)
    return {
        "id": str(row.webhook_id),
        "username": row.webhook_username or "Webhook",
        "avatar": row.webhook_avatar,
        "bot": True,
    }


def webhook_fields(row: MessageRow) -> dict[str, Any]:
    """`webhookId`, only on a webhook's messages (as in Discord)."""
    return {} if row.webhook_id is None else {"webhookId": str(row.webhook_id)}
