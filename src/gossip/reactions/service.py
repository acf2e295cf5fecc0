"""Rules for reactions: adding (idempotent), removing yours or someone else's, listing."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import ChannelAccess, access_channel
from gossip.auth.subject import Actor
from gossip.db.models import Message, User
from gossip.events import emit
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.kit.permissions import Permission
from gossip.messages import payloads
from gossip.messages.service import READ, access_message, audience
from gossip.reactions import repository

MAX_EMOJI_PER_MESSAGE = 20  # distinct emoji, as in Discord
MAX_EMOJI_LENGTH = 100

_CUSTOM = re.compile(r"([A-Za-z0-9_]{2,32}):([0-9]{1,19})")
_ZWJ = "\u200d"
_KEYCAP = "\u20e3"
_KEYCAP_BASES = "0123456789#*"
_MAX_ZWJ_PARTS = 10


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _modifier(ch: str) -> bool:
    """What may follow an emoji inside one: variation selectors, the keycap mark, skin
    tones and the tag characters of subdivision flags."""
    code = ord(ch)
    return ch in "\ufe0e\ufe0f\u20e3" or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def _base(ch: str) -> bool:
    if ord(ch) < 0x80 or ch == "\ufffd" or _regional(ch):
        return False
    if ch == "\u2139":  # INFORMATION SOURCE is an emoji but a letter (Ll) to Unicode
        return True
    return unicodedata.category(ch) in ("So", "Sm", "Sk", "Po", "Pd")


def is_unicode_emoji(text: str) -> bool:
    """One emoji: a flag (two regional indicators), a keycap, or symbols with their
    modifiers joined by zero-width joiners. Letters, digits, whitespace, control
    characters and several emoji in a row are not one emoji."""
    if len(text) == 2 and all(_regional(ch) for ch in text):
        return True
    if text[0] in _KEYCAP_BASES:
        return text[1:] in (_KEYCAP, "\ufe0f" + _KEYCAP)
    parts = text.split(_ZWJ)
    if len(parts) > _MAX_ZWJ_PARTS:
        return False
    return all(part and _base(part[0]) and all(_modifier(ch) for ch in part[1:]) for part in parts)


def check_emoji(raw: str) -> str:
    """A unicode emoji, or a custom one written `name:id`; 1-100 characters."""
    if 1 <= len(raw) <= MAX_EMOJI_LENGTH:
        custom = _CUSTOM.fullmatch(raw)
        if custom and ids.parse_id(custom.group(2)) is not None:
            return raw
        if not custom and is_unicode_emoji(raw):
            return raw
    raise ValidationFailed.field("emoji", "must be one unicode emoji or a custom emoji name:id")


def _event(found: ChannelAccess, message: Message, emoji: str, user_id: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userId": str(user_id),
        "channelId": str(found.channel.id),
        "messageId": str(message.id),
        "emoji": payloads.emoji(emoji),
    }
    if found.channel.server_id is not None:
        data["serverId"] = str(found.channel.server_id)
    return data


async def do_add_reaction(
    session: AsyncSession, actor: Actor, channel_id: int, message_id: int, raw_emoji: str
) -> None:
    """Needs READ_MESSAGE_HISTORY, and ADD_REACTIONS to be the first with an emoji on the
    message (joining an existing reaction needs no more). At most 20 distinct emoji per
    message. Idempotent; emits MESSAGE_REACTION_ADD when something changed."""
    found = (await access_channel(session, actor, channel_id)).require(READ)
    message = await access_message(session, found, message_id)
    emoji = check_emoji(raw_emoji)
    present = await repository.emojis_on(session, message.id)
    if emoji not in present:
        found.require(Permission.ADD_REACTIONS)
        if len(present) >= MAX_EMOJI_PER_MESSAGE:
            raise ValidationFailed(
                f"A message can have at most {MAX_EMOJI_PER_MESSAGE} different reactions"
            )
    if await repository.add(session, message.id, emoji, actor.user_id):
        emit(
            session,
            "MESSAGE_REACTION_ADD",
            _event(found, message, emoji, actor.user_id),
            await audience(session, found.channel),
        )


async def do_remove_reaction(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    message_id: int,
    raw_emoji: str,
    user_id: int | None = None,
) -> None:
    """Removes the actor's reaction, or with MANAGE_MESSAGES another user's. Idempotent;
    emits MESSAGE_REACTION_REMOVE when something changed."""
    found = await access_channel(session, actor, channel_id)
    message = await access_message(session, found, message_id)
    emoji = check_emoji(raw_emoji)
    target = actor.user_id if user_id is None else user_id
    if target != actor.user_id:
        found.require(Permission.MANAGE_MESSAGES)
    if await repository.remove(session, message.id, emoji, target):
        emit(
            session,
            "MESSAGE_REACTION_REMOVE",
            _event(found, message, emoji, target),
            await audience(session, found.channel),
        )


async def list_reactors(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    message_id: int,
    raw_emoji: str,
    *,
    after: int | None = None,
    limit: int = 25,
) -> list[User]:
    """Users who reacted with the emoji, by user ID, after `after`. Needs
    READ_MESSAGE_HISTORY."""
    found = (await access_channel(session, actor, channel_id)).require(READ)
    message = await access_message(session, found, message_id)
    emoji = check_emoji(raw_emoji)
    return await repository.users(session, message.id, emoji, after=after, limit=limit)
