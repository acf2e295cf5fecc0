"""`/api` routes for messages, pins and reactions.

Sending takes JSON here; a multipart/form-data send (content and files) is served by the
form route in media.py, which FastAPI would otherwise read whole looking for JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from gossip.kit.errors import ValidationFailed
from gossip.kit.ids import MAX_SNOWFLAKE
from gossip.kit.permissions import Permission
from gossip.messages import service as messages_service
from gossip.messages.service import Embed, EmbedField
from gossip.reactions import service as reactions_service
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out, UserBriefOut

router = APIRouter(prefix="/channels/{channel_id}", tags=["messages"])

Cursor = Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$", description="A message ID")]


def _cursor(value: str | None, name: str) -> int | None:
    """A pagination bound: any ID-sized number, even one naming no message."""
    if value is None:
        return None
    number = int(value)
    if number > MAX_SNOWFLAKE:
        raise ValidationFailed.field(name, "is not an ID")
    return number


class EmbedFieldIn(Body):
    name: str = Field(min_length=1, max_length=256)
    value: str = Field(min_length=1, max_length=1024)
    inline: bool = False


class EmbedIn(Body):
    title: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=4096)
    url: str | None = Field(default=None, max_length=2048)
    color: int | None = Field(default=None, ge=0, le=0xFFFFFF)
    fields: list[EmbedFieldIn] = Field(default_factory=list, max_length=25)

    def embed(self) -> Embed:
        return Embed(
            title=self.title,
            description=self.description,
            url=self.url,
            color=self.color,
            fields=[EmbedField(f.name, f.value, f.inline) for f in self.fields],
        )


class MessageCreateIn(Body):
    """Content, embeds or both; an empty message is a 400."""

    content: str | None = Field(default=None, max_length=2000)
    embeds: list[EmbedIn] = Field(default_factory=list, max_length=10)
    tts: bool = False


class MessageEditIn(Body):
    content: str | None = Field(default=None, max_length=2000)
    embeds: list[EmbedIn] | None = Field(default=None, max_length=10)


class EmojiOut(Out):
    id: str | None
    name: str


class ReactionOut(Out):
    emoji: EmojiOut
    count: int
    me: bool


class EmbedFieldOut(Out):
    name: str
    value: str
    inline: bool


class EmbedOut(Out):
    title: str | None = None
    description: str | None = None
    url: str | None = None
    color: int | None = None
    fields: list[EmbedFieldOut] = []


class MessageOut(Out):
    id: str
    channelId: str
    author: UserBriefOut
    content: str
    timestamp: str
    editedTimestamp: str | None
    mentions: list[UserBriefOut]
    mentionRoles: list[str]
    mentionEveryone: bool
    attachments: list[dict[str, Any]]
    embeds: list[EmbedOut]
    reactions: list[ReactionOut]
    pinned: bool
    type: int
    tts: bool


# --- messages ------------------------------------------------------------------------


@router.get(
    "/messages",
    openapi_extra=access("channel", Permission.READ_MESSAGE_HISTORY),
    response_model=Envelope[list[MessageOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_messages(
    channel_id: str,
    actor: CurrentActor,
    session: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: Cursor = None,
    after: Cursor = None,
) -> JSON:
    """Newest first, always: the latest messages, those right before `before`, or those
    right after `after` (one of the two at most)."""
    views = await messages_service.list_messages(
        session,
        actor,
        path_id(channel_id, "Channel"),
        limit=limit,
        before=_cursor(before, "before"),
        after=_cursor(after, "after"),
    )
    return ok([v.payload() for v in views])


@router.post(
    "/messages",
    openapi_extra=access("channel", Permission.SEND_MESSAGES),
    status_code=201,
    response_model=Envelope[MessageOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def send_message(
    channel_id: str, body: MessageCreateIn, actor: CurrentActor, session: Writer
) -> JSON:
    """tts needs SEND_TTS_MESSAGES and embeds EMBED_LINKS; @everyone pings only with
    MENTION_EVERYONE."""
    view = await messages_service.do_send_message(
        session,
        actor,
        path_id(channel_id, "Channel"),
        content=body.content or "",
        embeds=[e.embed() for e in body.embeds],
        tts=body.tts,
    )
    return ok(view.payload(), status=201, message="Message sent")


@router.get(
    "/messages/{message_id}",
    openapi_extra=access("channel", Permission.READ_MESSAGE_HISTORY),
    response_model=Envelope[MessageOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_message(
    channel_id: str, message_id: str, actor: CurrentActor, session: Reader
) -> JSON:
    view = await messages_service.get_message(
        session, actor, path_id(channel_id, "Channel"), path_id(message_id, "Message")
    )
    return ok(view.payload())


@router.patch(
    "/messages/{message_id}",
    openapi_extra=access("author"),
    response_model=Envelope[MessageOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def edit_message(
    channel_id: str, message_id: str, body: MessageEditIn, actor: CurrentActor, session: Writer
) -> JSON:
    """Only the author may edit a message."""
    view = await messages_service.do_edit_message(
        session,
        actor,
        path_id(channel_id, "Channel"),
        path_id(message_id, "Message"),
        content=body.content,
        embeds=None if body.embeds is None else [e.embed() for e in body.embeds],
    )
    return ok(view.payload(), message="Message updated")


@router.delete(
    "/messages/{message_id}",
    openapi_extra=access("channel", Permission.MANAGE_MESSAGES, or_author=True),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_message(
    channel_id: str, message_id: str, actor: CurrentActor, session: Writer
) -> JSON:
    await messages_service.do_delete_message(
        session, actor, path_id(channel_id, "Channel"), path_id(message_id, "Message")
    )
    return ok(None, message="Message deleted")


# --- pins ----------------------------------------------------------------------------


@router.get(
    "/pins",
    openapi_extra=access("channel", Permission.READ_MESSAGE_HISTORY),
    response_model=Envelope[list[MessageOut]],
    responses=error_responses(401, 403, 404, 429),
)
async def list_pins(channel_id: str, actor: CurrentActor, session: Reader) -> JSON:
    """The channel's pinned messages (at most 50), newest first."""
    views = await messages_service.list_pins(session, actor, path_id(channel_id, "Channel"))
    return ok([v.payload() for v in views])


@router.put(
    "/pins/{message_id}",
    openapi_extra=access("channel", Permission.MANAGE_MESSAGES),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def pin_message(
    channel_id: str, message_id: str, actor: CurrentActor, session: Writer
) -> JSON:
    """In a DM any participant may pin. At most 50 pins per channel."""
    await messages_service.do_set_pinned(
        session, actor, path_id(channel_id, "Channel"), path_id(message_id, "Message"), True
    )
    return ok(None, message="Message pinned")


@router.delete(
    "/pins/{message_id}",
    openapi_extra=access("channel", Permission.MANAGE_MESSAGES),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def unpin_message(
    channel_id: str, message_id: str, actor: CurrentActor, session: Writer
) -> JSON:
    await messages_service.do_set_pinned(
        session, actor, path_id(channel_id, "Channel"), path_id(message_id, "Message"), False
    )
    return ok(None, message="Message unpinned")


# --- reactions -----------------------------------------------------------------------

Emoji = Annotated[
    str, Path(description="URL-encoded: a unicode emoji (%F0%9F%91%8D) or a custom emoji name:id")
]


@router.put(
    "/messages/{message_id}/reactions/{emoji}",
    openapi_extra=access("channel", Permission.READ_MESSAGE_HISTORY),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def add_reaction(
    channel_id: str, message_id: str, emoji: Emoji, actor: CurrentActor, session: Writer
) -> JSON:
    """Idempotent. Being the first with an emoji on the message needs ADD_REACTIONS too;
    a message holds at most 20 different emoji."""
    await reactions_service.do_add_reaction(
        session, actor, path_id(channel_id, "Channel"), path_id(message_id, "Message"), emoji
    )
    return ok(None, message="Reaction added")


@router.delete(
    "/messages/{message_id}/reactions/{emoji}",
    openapi_extra=access("channel"),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def remove_own_reaction(
    channel_id: str, message_id: str, emoji: Emoji, actor: CurrentActor, session: Writer
) -> JSON:
    """Removes the caller's own reaction; idempotent."""
    await reactions_service.do_remove_reaction(
        session, actor, path_id(channel_id, "Channel"), path_id(message_id, "Message"), emoji
    )
    return ok(None, message="Reaction removed")


@router.delete(
    "/messages/{message_id}/reactions/{emoji}/{user_id}",
    openapi_extra=access("channel", Permission.MANAGE_MESSAGES),
    response_model=Envelope[None],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def remove_user_reaction(
    channel_id: str,
    message_id: str,
    emoji: Emoji,
    user_id: str,
    actor: CurrentActor,
    session: Writer,
) -> JSON:
    """Removes another user's reaction (MANAGE_MESSAGES); `@me` or your own ID needs
    nothing. Idempotent."""
    target = actor.user_id if user_id == "@me" else path_id(user_id, "User")
    await reactions_service.do_remove_reaction(
        session,
        actor,
        path_id(channel_id, "Channel"),
        path_id(message_id, "Message"),
        emoji,
        target,
    )
    return ok(None, message="Reaction removed")


@router.get(
    "/messages/{message_id}/reactions/{emoji}",
    openapi_extra=access("channel", Permission.READ_MESSAGE_HISTORY),
    response_model=Envelope[list[UserBriefOut]],
    responses=error_responses(400, 401, 403, 404, 429),
)
async def list_reactors(
    channel_id: str,
    message_id: str,
    emoji: Emoji,
    actor: CurrentActor,
    session: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    after: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$", description="A user ID")] = None,
) -> JSON:
    """The users who reacted with the emoji, ordered by user ID; page with `after`."""
    users = await reactions_service.list_reactors(
        session,
        actor,
        path_id(channel_id, "Channel"),
        path_id(message_id, "Message"),
        emoji,
        after=_cursor(after, "after"),
        limit=limit,
    )
    return ok(
        [{"id": str(u.id), "username": u.username, "avatar": u.avatar, "bot": u.bot} for u in users]
    )
