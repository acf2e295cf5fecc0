"""Rules for messages: reading pages, sending, editing, deleting and pinning.

The list and send paths are the hottest in the server, so each loads what it renders in a
fixed number of queries whatever the page size: the page, then every author and mentioned
user in one query, then every reaction summary in one grouped query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import (
    ChannelAccess,
    ChannelGrant,
    access_channel,
    access_channel_grant,
)
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.channels import repository as channels_repository
from gossip.channels.service import CATEGORY, VOICE
from gossip.db.models import Channel, Message
from gossip.dms import repository as dms_repository
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import Forbidden, NotFound, ValidationFailed
from gossip.kit.permissions import Permission
from gossip.kit.timefmt import iso, utcnow
from gossip.messages import payloads, repository
from gossip.messages.payloads import MessageRow
from gossip.messages.repository import NewMessage
from gossip.reactions import repository as reactions_repository
from gossip.reactions.repository import ReactionSummary
from gossip.threads import is_thread, send_permission
from gossip.threads import service as threads_service
from gossip.users import repository as users_repository
from gossip.users.repository import UserBrief

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_FIELDS = 25
MAX_EMBED_CHARS = 6000  # Discord's limit over all text of all embeds of a message
MAX_PINS = 50
MAX_MENTIONS = 100  # bounds the users query; a 2000-character message can name ~400
READ = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY

USER_MENTION = re.compile(r"<@!?([0-9]{1,19})>")
ROLE_MENTION = re.compile(r"<@&([0-9]{1,19})>")
EVERYONE_MENTION = re.compile(r"@(?:everyone|here)\b")
# Unicode's category Cs is exactly the surrogate range; a regex scans it in C.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class EmbedField:
    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Embed:
    title: str | None = None
    description: str | None = None
    url: str | None = None
    color: int | None = None
    fields: Sequence[EmbedField] = ()


@dataclass(frozen=True, slots=True)
class MessageView:
    message: MessageRow
    users: Mapping[int, UserBrief]
    reactions: Sequence[ReactionSummary] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return payloads.message(self.message, self.users, self.reactions)

    def event_payload(self) -> dict[str, Any]:
        """The REST shape, except `me`: an event has many readers, so it is false."""
        data = self.payload()
        for reaction in data["reactions"]:
            reaction["me"] = False
        return data


# --- input ---------------------------------------------------------------------------


def _check_chars(value: str, field_name: str) -> None:
    # NUL and lone surrogates cannot be stored (PostgreSQL text, UTF-8): refuse, never 500.
    if "\x00" in value or _SURROGATE.search(value):
        raise ValidationFailed.field(field_name, "contains characters that are not allowed")


def check_content(value: str) -> str:
    if len(value) > MAX_CONTENT:
        raise ValidationFailed.field("content", f"must be at most {MAX_CONTENT} characters")
    _check_chars(value, "content")
    return value


def check_embeds(embeds: Sequence[Embed]) -> list[dict[str, Any]]:
    """The embeds as stored: only the given keys, each embed showing something."""
    if len(embeds) > MAX_EMBEDS:
        raise ValidationFailed.field("embeds", f"must have at most {MAX_EMBEDS} entries")
    stored: list[dict[str, Any]] = []
    total = 0
    for i, embed in enumerate(embeds):
        where = f"embeds.{i}"
        item: dict[str, Any] = {}
        for key, limit in (("title", 256), ("description", 4096)):
            text = getattr(embed, key)
            if text is not None:
                if len(text) > limit:
                    raise ValidationFailed.field(f"{where}.{key}", f"must be at most {limit}")
                _check_chars(text, f"{where}.{key}")
                item[key] = text
                total += len(text)
        if embed.url is not None:
            item["url"] = check_url(embed.url, f"{where}.url")
        if embed.color is not None:
            if not 0 <= embed.color <= 0xFFFFFF:
                raise ValidationFailed.field(f"{where}.color", "must be 0-16777215 (0xFFFFFF)")
            item["color"] = embed.color
        if len(embed.fields) > MAX_EMBED_FIELDS:
            raise ValidationFailed.field(f"{where}.fields", "must have at most 25 entries")
        if embed.fields:
            item["fields"] = []
            for j, entry in enumerate(embed.fields):
                for key, limit in (("name", 256), ("value", 1024)):
                    text = getattr(entry, key)
                    if not text.strip() or len(text) > limit:
                        raise ValidationFailed.field(
                            f"{where}.fields.{j}.{key}", f"must be 1-{limit} characters"
                        )
                    _check_chars(text, f"{where}.fields.{j}.{key}")
                    total += len(text)
                item["fields"].append(
                    {"name": entry.name, "value": entry.value, "inline": entry.inline}
                )
        if not item.keys() & {"title", "description", "fields"}:
            raise ValidationFailed.field(where, "needs a title, a description or fields")
        stored.append(item)
    if total > MAX_EMBED_CHARS:
        raise ValidationFailed.field("embeds", f"must hold at most {MAX_EMBED_CHARS} characters")
    return stored


def check_url(value: str, field_name: str) -> str:
    parts = urlsplit(value) if len(value) <= 2048 else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed.field(field_name, "must be an http(s) URL")
    _check_chars(value, field_name)
    if any(ch.isspace() for ch in value):
        raise ValidationFailed.field(field_name, "must be an http(s) URL")
    return value


def check_not_empty(content: str, embeds: Sequence[object]) -> None:
    if not content.strip() and not embeds:
        raise ValidationFailed.field("content", "Cannot send an empty message")


@dataclass(frozen=True, slots=True)
class _Mentions:
    user_ids: list[int]
    role_ids: list[int]
    everyone: bool


def parse_mentions(content: str) -> _Mentions:
    """`<@id>`/`<@!id>` users, `<@&id>` roles and @everyone/@here, each ID once, in order."""
    users = list(dict.fromkeys(int(m) for m in USER_MENTION.findall(content)))[:MAX_MENTIONS]
    roles = list(dict.fromkeys(int(m) for m in ROLE_MENTION.findall(content)))[:MAX_MENTIONS]
    return _Mentions(users, roles, EVERYONE_MENTION.search(content) is not None)


async def _resolve_mentions(
    session: AsyncSession, server_id: int | None, permissions: int, author_id: int, content: str
) -> tuple[dict[int, UserBrief], list[str], list[str], bool]:
    """Loads the author with every mentioned user (one query) and keeps the mentions that
    name something: users that exist; roles of this server (one query, only if any are
    named; @everyone's role is not a role mention); @everyone only in a server channel with
    MENTION_EVERYONE (`permissions` there), as in Discord, where the text stays but nobody
    is pinged."""
    parsed = parse_mentions(content)
    users = {u.id: u for u in await users_repository.briefs(session, [author_id, *parsed.user_ids])}
    mentions = [str(u) for u in parsed.user_ids if u in users]
    roles: list[str] = []
    if parsed.role_ids and server_id is not None:
        known = await channels_repository.existing_roles(session, server_id, parsed.role_ids)
        roles = [str(r) for r in parsed.role_ids if r in known and r != server_id]
    everyone = (
        parsed.everyone
        and server_id is not None
        and bool(permissions & Permission.MENTION_EVERYONE)
    )
    return users, mentions, roles, everyone


# --- reading -------------------------------------------------------------------------


async def access_message(session: AsyncSession, found: ChannelAccess, message_id: int) -> Message:
    """The message if it is in the channel (a message of another channel is a 404 here)."""
    message = await repository.in_channel(session, found.channel.id, message_id)
    if message is None:
        raise NotFound("Message")
    return message


async def hydrate(
    session: AsyncSession, viewer_id: int, messages: Sequence[Message]
) -> list[MessageView]:
    """Authors, mentioned users and reactions for a page: two queries whatever its size."""
    if not messages:
        return []
    wanted = {m.author_id for m in messages}
    for m in messages:
        wanted.update(int(u) for u in m.mentions or ())
    users = {u.id: u for u in await users_repository.briefs(session, list(wanted))}
    reactions = await reactions_repository.summaries(session, [m.id for m in messages], viewer_id)
    return [MessageView(m, users, reactions.get(m.id, [])) for m in messages]


async def hydrate_with_authors(
    session: AsyncSession,
    viewer_id: int,
    messages: Sequence[MessageRow],
    authors: dict[int, UserBrief],
) -> list[MessageView]:
    """As `hydrate`, for messages read with their authors' briefs: only users they mention
    and that are not among the authors are read (often none), then the reactions."""
    users = dict(authors)
    mentioned = {int(u) for m in messages for u in m.mentions or ()} - users.keys()
    if mentioned:
        users |= {u.id: u for u in await users_repository.briefs(session, list(mentioned))}
    reactions = await reactions_repository.summaries(session, [m.id for m in messages], viewer_id)
    return [MessageView(m, users, reactions.get(m.id, [])) for m in messages]


async def list_messages(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
) -> list[MessageView]:
    """Needs VIEW_CHANNEL and READ_MESSAGE_HISTORY. Newest first, always: the latest
    `limit` messages, those right before `before`, or those right after `after`."""
    if before is not None and after is not None:
        raise ValidationFailed.field("before", "use either before or after, not both")
    if not 1 <= limit <= 100:
        raise ValidationFailed.field("limit", "must be 1-100")
    # The grant and plain rows, not ORM objects: after the send, this is the commonest
    # request. Three statements: access, the page with its authors, the reactions.
    found = (await access_channel_grant(session, actor, channel_id)).require(READ)
    rows, authors = await repository.page_with_authors(
        session, found.channel_id, limit=limit, before=before, after=after
    )
    if not rows:
        return []
    return await hydrate_with_authors(session, actor.user_id, rows, authors)


async def get_message(
    session: AsyncSession, actor: Actor, channel_id: int, message_id: int
) -> MessageView:
    found = (await access_channel(session, actor, channel_id)).require(READ)
    message = await access_message(session, found, message_id)
    return (await hydrate(session, actor.user_id, [message]))[0]


async def list_pins(session: AsyncSession, actor: Actor, channel_id: int) -> list[MessageView]:
    found = (await access_channel(session, actor, channel_id)).require(READ)
    return await hydrate(session, actor.user_id, await repository.pinned(session, found.channel.id))


# --- changing ------------------------------------------------------------------------


async def audience(session: AsyncSession, channel: Channel) -> Audience:
    return await audience_of(session, channel.id, channel.server_id)


async def audience_of(session: AsyncSession, channel_id: int, server_id: int | None) -> Audience:
    """A server channel's events go to its server (the gateway filters by permission); a
    DM's to its participants."""
    if server_id is not None:
        return Audience(server_id=server_id, channel_id=channel_id)
    return Audience(
        channel_id=channel_id,
        user_ids=tuple(await dms_repository.participant_ids(session, channel_id)),
    )


async def do_send_message(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    *,
    content: str = "",
    embeds: Sequence[Embed] = (),
    tts: bool = False,
    attachments: Sequence[dict[str, Any]] = (),
) -> MessageView:
    """Needs SEND_MESSAGES (SEND_MESSAGES_IN_THREADS in a thread), plus SEND_TTS_MESSAGES
    for tts and EMBED_LINKS for embeds. Voice channels and categories hold no messages
    (400). Content or embeds are required. Moves the channel's lastMessageId in the same
    transaction; emits MESSAGE_CREATE."""
    # The grant (plain values, one statement) rather than ORM objects: this is the hottest
    # write. It is decided by the same rules as access_channel.
    found = await access_channel_grant(session, actor, channel_id)
    stored_embeds = check_send(found, content, embeds, attachments, tts)
    users, mentions, roles, everyone = await _resolve_mentions(
        session, found.server_id, found.permissions, actor.user_id, content
    )
    if is_thread(found):
        # Locked threads refuse, archived ones reopen, the poster joins. That may render
        # the thread, so it takes the thread's row: the rare path pays for loading it.
        thread = await access_channel(session, actor, found.channel_id)
        await threads_service.do_before_post(session, actor, thread)
    message = NewMessage(
        id=ids.new_id(),
        channel_id=found.channel_id,
        author_id=actor.user_id,
        content=content,
        tts=tts,
        mention_everyone=everyone,
        mentions=mentions or None,
        mention_roles=roles or None,
        embeds=stored_embeds or None,
        attachments=list(attachments) or None,
    )
    return await _add_new(session, message, found.server_id, users)


def check_send(
    found: ChannelGrant,
    content: str,
    embeds: Sequence[Embed] = (),
    attachments: Sequence[dict[str, Any]] = (),
    tts: bool = False,
) -> list[dict[str, Any]]:
    """Everything a send is refused for once the channel is visible, in the order the
    answers are given (the group commit, messages/group_commit.py, applies the same):
    the permission to post, the channel's kind, the content, then what tts, attachments
    and embeds need. Returns the embeds as stored."""
    found.require(send_permission(found))  # SEND_MESSAGES_IN_THREADS in a thread
    if found.type in (VOICE, CATEGORY):
        raise ValidationFailed("Cannot send messages in a voice channel or category")
    check_content(content)
    # Attachments (already stored, media/service.py) need ATTACH_FILES.
    check_not_empty(content, [*embeds, *attachments])
    if attachments:
        found.require(Permission.ATTACH_FILES)
    if tts:
        found.require(Permission.SEND_TTS_MESSAGES)
    if not embeds:
        return []
    found.require(Permission.EMBED_LINKS)
    return check_embeds(embeds)


async def _add_new(
    session: AsyncSession,
    message: NewMessage,
    server_id: int | None,
    users: Mapping[int, UserBrief],
) -> MessageView:
    """Stores a new message, moves the channel's lastMessageId in the same transaction and
    emits MESSAGE_CREATE: the one way every sender (a member, a webhook) adds a message.
    The view is built from the values just stored, not read back."""
    await repository.add(session, message)
    view = MessageView(message, users, [])
    where = await audience_of(session, message.channel_id, server_id)
    emit(session, "MESSAGE_CREATE", view.event_payload(), where)
    return view


@dataclass(frozen=True, slots=True)
class WebhookIdentity:
    """Who a webhook's message is from, as this execution named it."""

    webhook_id: int
    # The reserved account every webhook message belongs to (messages.author_id needs one).
    author_id: int
    username: str
    avatar: str | None


async def do_send_as_webhook(
    session: AsyncSession,
    channel: Channel,
    identity: WebhookIdentity,
    *,
    content: str = "",
    embeds: Sequence[Embed] = (),
    tts: bool = False,
) -> MessageView:
    """A message from an incoming webhook. Precondition: the webhooks service checked the
    token and that the channel is the webhook's text channel. A webhook may send embeds and
    tts; user and role mentions resolve as for anyone, but its @everyone never pings (no
    member stands behind it to hold MENTION_EVERYONE). Emits MESSAGE_CREATE."""
    if channel.type in (VOICE, CATEGORY):
        raise ValidationFailed("Cannot send messages in a voice channel or category")
    content = check_content(content)
    check_not_empty(content, embeds)
    stored_embeds = check_embeds(embeds) if embeds else []
    users, mentions, roles, _ = await _resolve_mentions(
        session, channel.server_id, 0, identity.author_id, content
    )
    message = NewMessage(
        id=ids.new_id(),
        channel_id=channel.id,
        author_id=identity.author_id,
        content=content,
        tts=tts,
        mention_everyone=False,
        mentions=mentions or None,
        mention_roles=roles or None,
        embeds=stored_embeds or None,
        webhook_id=identity.webhook_id,
        webhook_username=identity.username,
        webhook_avatar=identity.avatar,
    )
    return await _add_new(session, message, channel.server_id, users)


async def do_edit_message(
    session: AsyncSession,
    actor: Actor,
    channel_id: int,
    message_id: int,
    *,
    content: str | None = None,
    embeds: Sequence[Embed] | None = None,
) -> MessageView:
    """Only the author may edit (MANAGE_MESSAGES does not let anyone rewrite another's
    words, as in Discord). Mentions are parsed again; sets editedTimestamp; emits
    MESSAGE_UPDATE."""
    found = await access_channel(session, actor, channel_id)
    message = await access_message(session, found, message_id)
    if message.author_id != actor.user_id:
        raise Forbidden("Only the author can edit a message")
    if content is None and embeds is None:
        raise ValidationFailed.field("content", "give content or embeds to change")
    new_content = message.content if content is None else check_content(content)
    new_embeds = list(message.embeds or ())
    if embeds is not None:
        if embeds:
            found.require(Permission.EMBED_LINKS)
        new_embeds = check_embeds(embeds)
    check_not_empty(new_content, new_embeds)
    users, mentions, roles, everyone = await _resolve_mentions(
        session, found.channel.server_id, found.permissions, actor.user_id, new_content
    )
    message.content = new_content
    message.embeds = new_embeds or None
    message.mentions = mentions or None
    message.mention_roles = roles or None
    message.mention_everyone = everyone
    message.edited_at = utcnow()
    await session.flush()
    reactions = await reactions_repository.summaries(session, [message.id], actor.user_id)
    view = MessageView(message, users, reactions.get(message.id, []))
    emit(session, "MESSAGE_UPDATE", view.event_payload(), await audience(session, found.channel))
    return view


def _deleted_payload(message: Message, channel: Channel) -> dict[str, Any]:
    data = {"id": str(message.id), "channelId": str(channel.id)}
    if channel.server_id is not None:
        data["serverId"] = str(channel.server_id)
    return data


async def do_delete_message(
    session: AsyncSession, actor: Actor, channel_id: int, message_id: int
) -> None:
    """The author, or anyone with MANAGE_MESSAGES in the channel. Emits MESSAGE_DELETE."""
    found = await access_channel(session, actor, channel_id)
    message = await access_message(session, found, message_id)
    if message.author_id != actor.user_id:
        found.require(Permission.MANAGE_MESSAGES)
        audit.record(
            session,
            "MESSAGE_DELETE",
            actor.user_id,
            server_id=found.channel.server_id,
            target_id=message.webhook_id or message.author_id,
            options={"channelId": found.channel.id, "messageId": message.id},
        )
    await repository.remove(session, message)
    emit(
        session,
        "MESSAGE_DELETE",
        _deleted_payload(message, found.channel),
        await audience(session, found.channel),
    )


async def do_set_pinned(
    session: AsyncSession, actor: Actor, channel_id: int, message_id: int, pinned: bool
) -> None:
    """MANAGE_MESSAGES in a server channel; any participant in a DM (as in Discord). At
    most 50 pins per channel. Idempotent. Emits MESSAGE_UPDATE and CHANNEL_PINS_UPDATE."""
    found = await access_channel(session, actor, channel_id)
    if not found.is_dm:
        found.require(Permission.MANAGE_MESSAGES)
    message = await access_message(session, found, message_id)
    if message.pinned == pinned:
        return
    if pinned and await repository.pinned_count(session, found.channel.id) >= MAX_PINS:
        raise ValidationFailed(f"A channel can have at most {MAX_PINS} pinned messages")
    message.pinned = pinned
    await session.flush()
    view = (await hydrate(session, actor.user_id, [message]))[0]
    where = await audience(session, found.channel)
    emit(session, "MESSAGE_UPDATE", view.event_payload(), where)
    data: dict[str, Any] = {"channelId": str(found.channel.id)}
    if found.channel.server_id is not None:
        data["serverId"] = str(found.channel.server_id)
    if pinned:
        data["lastPinTimestamp"] = iso(utcnow())
    emit(session, "CHANNEL_PINS_UPDATE", data, where)
