"""`/api` routes for server channels and their permission overwrites."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BeforeValidator, Field, WithJsonSchema

from gossip.channels import service as channels_service
from gossip.channels.service import UNSET, ChannelChanges, NewChannel, OverwriteSpec
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.kit.permissions import Permission, parse_permissions
from gossip.surfaces.chirp.deps import CurrentActor, Reader, Writer, path_id
from gossip.surfaces.chirp.envelope import JSON, Envelope, error_responses, ok
from gossip.surfaces.chirp.rules import access
from gossip.surfaces.chirp.schemas import Body, Out
from gossip.surfaces.chirp.threads import Duration, ThreadOut
from gossip.threads import is_thread
from gossip.threads import service as threads_service

router = APIRouter(tags=["channels"])


def _snowflake(value: object) -> int:
    parsed = ids.parse_id(value) if isinstance(value, str | int) else None
    if parsed is None:
        raise ValueError("must be an ID (a string of digits)")
    return parsed


# IDs and permission bitfields are strings on the wire and ints inside.
SnowflakeIn = Annotated[
    int, BeforeValidator(_snowflake), WithJsonSchema({"type": "string", "pattern": "^[0-9]+$"})
]
PermissionsIn = Annotated[
    int,
    BeforeValidator(parse_permissions),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,20}$"}),
]
Position = Annotated[int, Field(ge=0, le=2_147_483_647)]


class OverwriteIn(Body):
    id: SnowflakeIn
    type: Literal[0, 1]
    allow: PermissionsIn = 0
    deny: PermissionsIn = 0

    def spec(self) -> OverwriteSpec:
        return OverwriteSpec(self.id, self.type, self.allow, self.deny)


class OverwriteBodyIn(Body):
    """PUT /channels/{id}/permissions/{overwrite_id}: the target is in the path."""

    type: Literal[0, 1]
    allow: PermissionsIn = 0
    deny: PermissionsIn = 0


class ChannelCreateIn(Body):
    name: str = Field(min_length=1, max_length=100)
    type: Literal[0, 2, 4, 15] = 0
    topic: str | None = Field(default=None, max_length=1024)
    parentId: SnowflakeIn | None = None
    position: Position | None = None
    nsfw: bool = False
    permissionOverwrites: list[OverwriteIn] = Field(default_factory=list, max_length=100)
    userLimit: int = Field(default=0, ge=0, le=99, description="voice channels; 0: no limit")


class ChannelUpdateIn(Body):
    """Only the given fields change; `topic: null` clears it, `parentId: null` detaches.
    A thread takes name, archived, locked and autoArchiveDuration."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    topic: str | None = Field(default=None, max_length=1024)
    parentId: SnowflakeIn | None = None
    position: Position | None = None
    nsfw: bool | None = None
    permissionOverwrites: list[OverwriteIn] | None = Field(default=None, max_length=100)
    userLimit: int | None = Field(default=None, ge=0, le=99, description="voice channels")
    archived: bool | None = None
    locked: bool | None = None
    autoArchiveDuration: Duration | None = None


class OverwriteOut(Out):
    id: str
    type: int
    allow: str
    deny: str


class ChannelOut(Out):
    id: str
    name: str | None
    type: int
    topic: str | None
    parentId: str | None
    position: int
    permissionOverwrites: list[OverwriteOut]
    nsfw: bool
    lastMessageId: str | None
    createdAt: str
    serverId: str | None
    userLimit: int | None = Field(default=None, description="voice channels only")


class RecipientOut(Out):
    id: str
    username: str
    avatar: str | None


class DmChannelOut(Out):
    id: str
    type: int
    name: str | None
    ownerId: str | None
    recipients: list[RecipientOut]
    lastMessageId: str | None
    lastMessageTimestamp: str | None
    createdAt: str


@router.get(
    "/servers/{server_id}/channels",
    openapi_extra=access("server"),
    response_model=Envelope[list[ChannelOut]],
    responses=error_responses(401, 403, 404, 429),
)
async def list_channels(server_id: str, actor: CurrentActor, session: Reader) -> JSON:
    """The server's channels the caller can view (others are left out, not refused)."""
    views = await channels_service.list_visible(session, actor, path_id(server_id, "Server"))
    return ok([v.payload(actor.user_id) for v in views])


@router.post(
    "/servers/{server_id}/channels",
    openapi_extra=access("server", Permission.MANAGE_CHANNELS),
    status_code=201,
    response_model=Envelope[ChannelOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def create_channel(
    server_id: str, body: ChannelCreateIn, actor: CurrentActor, session: Writer
) -> JSON:
    view = await channels_service.do_create_channel(
        session,
        actor,
        path_id(server_id, "Server"),
        NewChannel(
            name=body.name,
            type=body.type,
            topic=body.topic,
            parent_id=body.parentId,
            position=body.position,
            nsfw=body.nsfw,
            overwrites=[o.spec() for o in body.permissionOverwrites],
            user_limit=body.userLimit,
        ),
    )
    return ok(view.payload(actor.user_id), status=201, message="Channel created")


@router.get(
    "/channels/{channel_id}",
    openapi_extra=access("channel"),
    response_model=Envelope[ChannelOut | DmChannelOut | ThreadOut],
    responses=error_responses(401, 403, 404, 429),
)
async def get_channel(channel_id: str, actor: CurrentActor, session: Reader) -> JSON:
    """A server channel, a DM the caller is in (then shaped as in /users/me/channels), or
    a thread (shaped as the thread routes return it)."""
    view = await channels_service.get_channel(session, actor, path_id(channel_id, "Channel"))
    if is_thread(view.channel):
        return ok((await threads_service.view_of(session, view.channel)).payload())
    return ok(view.payload(actor.user_id))


@router.patch(
    "/channels/{channel_id}",
    openapi_extra=access("channel", Permission.MANAGE_CHANNELS),
    response_model=Envelope[ChannelOut | ThreadOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def update_channel(
    channel_id: str, body: ChannelUpdateIn, actor: CurrentActor, session: Writer
) -> JSON:
    """Changing permissionOverwrites needs MANAGE_ROLES as well. A thread follows the
    threads service's rules instead (docs/api.md, Threads)."""
    given = body.model_fields_set
    cid = path_id(channel_id, "Channel")
    if await threads_service.is_thread_id(session, cid):
        thread = await threads_service.do_update_thread(
            session,
            actor,
            cid,
            threads_service.ThreadChanges(
                name=body.name,
                archived=body.archived,
                locked=body.locked,
                auto_archive_duration=body.autoArchiveDuration,
            ),
        )
        return ok(thread.payload(), message="Thread updated")
    for name in ("name", "position", "nsfw", "permissionOverwrites", "userLimit"):
        if name in given and getattr(body, name) is None:
            raise ValidationFailed.field(name, "cannot be null")
    changes = ChannelChanges(
        name=body.name,
        topic=body.topic if "topic" in given else UNSET,
        parent_id=body.parentId if "parentId" in given else UNSET,
        position=body.position,
        nsfw=body.nsfw,
        user_limit=body.userLimit,
        overwrites=(
            None
            if body.permissionOverwrites is None
            else [o.spec() for o in body.permissionOverwrites]
        ),
    )
    view = await channels_service.do_update_channel(
        session, actor, path_id(channel_id, "Channel"), changes
    )
    return ok(view.payload(actor.user_id), message="Channel updated")


@router.delete(
    "/channels/{channel_id}",
    openapi_extra=access("channel", Permission.MANAGE_CHANNELS),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_channel(channel_id: str, actor: CurrentActor, session: Writer) -> JSON:
    """A thread needs MANAGE_THREADS instead. A channel's threads go with it."""
    cid = path_id(channel_id, "Channel")
    if await threads_service.is_thread_id(session, cid):
        await threads_service.do_delete_thread(session, actor, cid)
        return ok(None, message="Thread deleted")
    await channels_service.do_delete_channel(session, actor, cid)
    return ok(None, message="Channel deleted")


@router.put(
    "/channels/{channel_id}/permissions/{overwrite_id}",
    openapi_extra=access("channel", Permission.MANAGE_ROLES),
    response_model=Envelope[ChannelOut],
    responses=error_responses(400, 401, 403, 404, 413, 429),
)
async def put_overwrite(
    channel_id: str,
    overwrite_id: str,
    body: OverwriteBodyIn,
    actor: CurrentActor,
    session: Writer,
) -> JSON:
    """Sets the overwrite of one role (type 0) or member (type 1); answers the channel."""
    target = path_id(overwrite_id, "Role" if body.type == 0 else "Member")
    view = await channels_service.do_put_overwrite(
        session,
        actor,
        path_id(channel_id, "Channel"),
        OverwriteSpec(target, body.type, body.allow, body.deny),
    )
    return ok(view.payload(actor.user_id), message="Permissions updated")


@router.delete(
    "/channels/{channel_id}/permissions/{overwrite_id}",
    openapi_extra=access("channel", Permission.MANAGE_ROLES),
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 429),
)
async def delete_overwrite(
    channel_id: str, overwrite_id: str, actor: CurrentActor, session: Writer
) -> JSON:
    await channels_service.do_delete_overwrite(
        session,
        actor,
        path_id(channel_id, "Channel"),
        path_id(overwrite_id, "Permission overwrite"),
    )
    return ok(None, message="Permissions removed")
