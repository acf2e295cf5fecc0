"""Rules for incoming webhooks: who manages them, and posting through one with its token.

A webhook belongs to one text channel. Those with MANAGE_WEBHOOKS in that channel create,
read (token included, as spec 004's list shows it and Discord does), change and delete it;
anyone holding its token posts as it, without an account. Its messages are created by the
messages service (`do_send_as_webhook`), so they are stored, counted and delivered exactly
like members' messages, under the webhook's name and a bot flag.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access import repository as access_repository
from gossip.access.service import ChannelAccess, access_channel
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.db.models import Channel, Webhook
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import NotFound, ValidationFailed
from gossip.kit.permissions import Permission
from gossip.kit.timefmt import iso
from gossip.messages import service as messages_service
from gossip.messages.service import Embed, MessageView, WebhookIdentity
from gossip.servers.service import check_image_url
from gossip.webhooks import repository

# The reserved account (inserted by migration 0006) that owns every webhook message, so
# messages.author_id keeps its foreign key; the webhook itself is shown as the author.
# Its ID is the first snowflake of the epoch's first millisecond: no generated ID can be it.
WEBHOOK_AUTHOR_ID = 1 << 22  # 4194304
TEXT_CHANNEL = 0
MAX_PER_CHANNEL = 15  # Discord's limit
NAME_MIN, NAME_MAX = 2, 32  # spec 004
USERNAME_MIN, USERNAME_MAX = 1, 80  # Discord's, for the name one execution chooses
MAX_TOKEN = 100
# Compared against when no webhook has the ID, so a miss costs what a wrong token does.
_DUMMY_TOKEN = secrets.token_urlsafe(48)


def new_token() -> str:
    return secrets.token_urlsafe(48)  # 384 bits: guessing is hopeless under any rate


def check_name(raw: str, field: str = "name", low: int = NAME_MIN, high: int = NAME_MAX) -> str:
    name = unicodedata.normalize("NFC", raw).strip()
    if not low <= len(name) <= high:
        raise ValidationFailed.field(field, f"must be {low}-{high} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValidationFailed.field(field, "contains characters that are not allowed")
    return name


def payload(hook: Webhook) -> dict[str, Any]:
    """Spec 004's shape (the token included: only managers see it), plus serverId."""
    return {
        "id": str(hook.id),
        "name": hook.name,
        "avatar": hook.avatar,
        "channelId": str(hook.channel_id),
        "serverId": str(hook.server_id),
        "token": hook.token,
        "createdAt": iso(ids.snowflake_time(hook.id)),
    }


def _emit_update(session: AsyncSession, channel: Channel) -> None:
    """WEBHOOKS_UPDATE, as Discord's: something about the channel's webhooks changed. It
    carries no token, so everyone who sees the channel may receive it."""
    emit(
        session,
        "WEBHOOKS_UPDATE",
        {"serverId": str(channel.server_id), "channelId": str(channel.id)},
        Audience(server_id=channel.server_id, channel_id=channel.id),
    )


async def _access_managed_channel(
    session: AsyncSession, actor: Actor, channel_id: int | None
) -> ChannelAccess:
    """A channel the actor sees (else 404) and manages webhooks in (else 403)."""
    return (await access_channel(session, actor, channel_id)).require(Permission.MANAGE_WEBHOOKS)


def _check_text_channel(channel: Channel, field: str | None = None) -> None:
    if channel.type != TEXT_CHANNEL or channel.server_id is None:
        message = "Webhooks can only post in a server's text channels"
        if field:
            raise ValidationFailed.field(field, message)
        raise ValidationFailed(message)


async def _access_webhook(
    session: AsyncSession, actor: Actor, webhook_id: int | None
) -> tuple[Webhook, ChannelAccess]:
    """The webhook if the actor sees its channel (else 404) with MANAGE_WEBHOOKS (else 403)."""
    hook = await _get(session, webhook_id)
    try:
        found = await access_channel(session, actor, hook.channel_id)
    except NotFound:
        raise NotFound("Webhook") from None
    return hook, found.require(Permission.MANAGE_WEBHOOKS)


async def _get(session: AsyncSession, webhook_id: int | None) -> Webhook:
    hook = await repository.get(session, webhook_id) if webhook_id else None
    if hook is None:
        raise NotFound("Webhook")
    return hook


# --- managing ------------------------------------------------------------------------


async def do_create_webhook(
    session: AsyncSession,
    actor: Actor,
    channel_id: int | None,
    *,
    name: str,
    avatar: str | None = None,
) -> dict[str, Any]:
    """Precondition: MANAGE_WEBHOOKS in a text channel; at most 15 per channel. Audited;
    emits WEBHOOKS_UPDATE."""
    found = await _access_managed_channel(session, actor, channel_id)
    channel = found.channel
    _check_text_channel(channel)
    name = check_name(name)
    avatar = check_image_url("avatar", avatar)
    if await repository.count_in_channel(session, channel.id) >= MAX_PER_CHANNEL:
        raise ValidationFailed(f"A channel can have at most {MAX_PER_CHANNEL} webhooks")
    assert channel.server_id is not None  # a text channel
    hook = Webhook(
        id=ids.new_id(),
        server_id=channel.server_id,
        channel_id=channel.id,
        creator_id=actor.user_id,
        name=name,
        avatar=avatar,
        token=new_token(),
    )
    await repository.add(session, hook)
    audit.record(
        session,
        "WEBHOOK_CREATE",
        actor.user_id,
        server_id=hook.server_id,
        target_id=hook.id,
        options={"name": name, "channelId": channel.id},
    )
    _emit_update(session, channel)
    return payload(hook)


async def list_webhooks(
    session: AsyncSession, actor: Actor, channel_id: int | None
) -> list[dict[str, Any]]:
    """Precondition: MANAGE_WEBHOOKS in the channel. Oldest first."""
    found = await _access_managed_channel(session, actor, channel_id)
    return [payload(h) for h in await repository.in_channel(session, found.channel.id)]


async def access_webhook(
    session: AsyncSession, actor: Actor, webhook_id: int | None
) -> dict[str, Any]:
    """Precondition: MANAGE_WEBHOOKS in the webhook's channel."""
    hook, _ = await _access_webhook(session, actor, webhook_id)
    return payload(hook)


class Unset(enum.Enum):
    """`not given`, for fields where None means `clear it`."""

    token = 0


UNSET = Unset.token


@dataclass(frozen=True, slots=True)
class WebhookChanges:
    """Fields a PATCH names; UNSET keeps the current value, avatar None clears it."""

    name: str | None = None
    avatar: str | Unset | None = UNSET
    channel_id: int | None = None


async def do_update_webhook(
    session: AsyncSession, actor: Actor, webhook_id: int | None, changes: WebhookChanges
) -> dict[str, Any]:
    """Precondition: MANAGE_WEBHOOKS in its channel, and in the channel it moves to (a text
    channel of the same server). Audited and WEBHOOKS_UPDATE (to both channels on a move)
    when something changed."""
    hook, found = await _access_webhook(session, actor, webhook_id)
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = check_name(changes.name)
    if not isinstance(changes.avatar, Unset):
        values["avatar"] = check_image_url("avatar", changes.avatar)
    target: Channel | None = None
    if changes.channel_id is not None and changes.channel_id != hook.channel_id:
        try:
            moved = await _access_managed_channel(session, actor, changes.channel_id)
        except NotFound:
            raise ValidationFailed.field("channelId", "no such channel in this server") from None
        target = moved.channel
        if target.server_id != hook.server_id:
            raise ValidationFailed.field("channelId", "no such channel in this server")
        _check_text_channel(target, "channelId")
        if await repository.count_in_channel(session, target.id) >= MAX_PER_CHANNEL:
            raise ValidationFailed.field(
                "channelId", f"that channel has {MAX_PER_CHANNEL} webhooks already"
            )
        values["channel_id"] = target.id
    values = {k: v for k, v in values.items() if getattr(hook, k) != v}
    if not values:
        return payload(hook)
    await repository.update_fields(session, hook.id, values)
    for key, value in values.items():
        setattr(hook, key, value)
    changed = {"channelId" if k == "channel_id" else k: v for k, v in values.items()}
    audit.record(
        session,
        "WEBHOOK_UPDATE",
        actor.user_id,
        server_id=hook.server_id,
        target_id=hook.id,
        options={"changes": changed},
    )
    _emit_update(session, found.channel)
    if target is not None:
        _emit_update(session, target)
    return payload(hook)


async def do_delete_webhook(session: AsyncSession, actor: Actor, webhook_id: int | None) -> None:
    """Precondition: MANAGE_WEBHOOKS in its channel. Its messages stay (as in Discord), still
    shown under its name. Audited; emits WEBHOOKS_UPDATE."""
    hook, found = await _access_webhook(session, actor, webhook_id)
    await repository.remove(session, hook.id)
    audit.record(
        session,
        "WEBHOOK_DELETE",
        actor.user_id,
        server_id=hook.server_id,
        target_id=hook.id,
        options={"name": hook.name, "channelId": hook.channel_id},
    )
    _emit_update(session, found.channel)


# --- executing -----------------------------------------------------------------------


async def access_by_token(session: AsyncSession, webhook_id: int | None, token: str) -> Webhook:
    """The webhook this ID and token name. A wrong ID and a wrong token are the same 404,
    after the same constant-time comparison: neither says whether the webhook exists."""
    hook = await repository.get(session, webhook_id) if webhook_id else None
    expected = hook.token if hook is not None else _DUMMY_TOKEN
    given = token if len(token) <= MAX_TOKEN else ""
    if not hmac.compare_digest(expected.encode(), given.encode()) or hook is None:
        raise NotFound("Webhook")
    return hook


async def do_execute(
    session: AsyncSession,
    hook: Webhook,
    *,
    content: str = "",
    username: str | None = None,
    avatar_url: str | None = None,
    embeds: Sequence[Embed] = (),
    tts: bool = False,
) -> MessageView:
    """Posts in the webhook's channel as the webhook, or under the name and avatar this
    execution gives. Precondition: access_by_token. Emits MESSAGE_CREATE."""
    channel = await access_repository.channel(session, hook.channel_id)
    if channel is None:  # the foreign key cascades; only a concurrent delete gets here
        raise NotFound("Webhook")
    identity = WebhookIdentity(
        webhook_id=hook.id,
        author_id=WEBHOOK_AUTHOR_ID,
        username=(
            check_name(username, "username", USERNAME_MIN, USERNAME_MAX)
            if username is not None
            else hook.name
        ),
        avatar=check_image_url("avatarUrl", avatar_url) if avatar_url else hook.avatar,
    )
    return await messages_service.do_send_as_webhook(
        session, channel, identity, content=content, embeds=embeds, tts=tts
    )
