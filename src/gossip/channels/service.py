"""Rules for server channels: who sees which, creating, changing and deleting them, and
their permission overwrites.

Every function starts from the access layer, so a server or channel the caller cannot see
is a 404 and a missing permission on a visible one a 403.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import ChannelAccess, ServerAccess, access_channel, access_server
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.channels import payloads, repository
from gossip.db.models import Channel, PermissionOverwrite, User
from gossip.dms import repository as dms_repository
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import Forbidden, NotFound, ValidationFailed
from gossip.kit.permissions import (
    ALL_PERMISSIONS,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    Overwrite,
    Permission,
    channel_permissions,
    has,
)
from gossip.threads import is_thread

TEXT, DM, VOICE, GROUP_DM, CATEGORY, FORUM = 0, 1, 2, 3, 4, 15
SERVER_CHANNEL_TYPES = (TEXT, VOICE, CATEGORY, FORUM)
MAX_CHANNELS_PER_SERVER = 500
MAX_OVERWRITES = 100  # Discord's limit per channel
MAX_NAME = 100
MAX_TOPIC = 1024
MAX_USER_LIMIT = 99  # voice channels, as in Discord; 0 means no limit


class Unset(enum.Enum):
    """`not given`, for fields where None means `clear it`."""

    token = 0


UNSET = Unset.token


@dataclass(frozen=True, slots=True)
class OverwriteSpec:
    target_id: int
    type: int
    allow: int
    deny: int


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A server channel with its overwrites, or a DM with its participants."""

    channel: Channel
    overwrites: Sequence[PermissionOverwrite] = ()
    participants: Sequence[User] = ()

    def payload(self, viewer_id: int) -> dict[str, object]:
        if self.channel.server_id is None:
            return payloads.dm_channel(self.channel, self.participants, viewer_id)
        return payloads.server_channel(self.channel, self.overwrites)


@dataclass(frozen=True, slots=True)
class NewChannel:
    name: str
    type: int = TEXT
    topic: str | None = None
    parent_id: int | None = None
    position: int | None = None
    nsfw: bool = False
    overwrites: Sequence[OverwriteSpec] = ()
    user_limit: int = 0


@dataclass(frozen=True, slots=True)
class ChannelChanges:
    name: str | None = None
    topic: str | Unset | None = UNSET
    parent_id: int | Unset | None = UNSET
    position: int | None = None
    nsfw: bool | None = None
    overwrites: Sequence[OverwriteSpec] | None = None
    user_limit: int | None = None


# --- input ---------------------------------------------------------------------------


def check_text(value: str, field: str, *, max_len: int, min_len: int = 0) -> str:
    """Trimmed text without control characters (newlines allowed only where said)."""
    text = value.strip()
    if not min_len <= len(text) <= max_len:
        raise ValidationFailed.field(field, f"must be {min_len}-{max_len} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise ValidationFailed.field(field, "contains control characters")
    return text


def check_name(value: str, field: str = "name") -> str:
    return check_text(value, field, max_len=MAX_NAME, min_len=1)


def check_topic(value: str | None) -> str | None:
    if value is None:
        return None
    # A topic may span lines; other control characters have no business in it.
    if len(value) > MAX_TOPIC:
        raise ValidationFailed.field("topic", f"must be at most {MAX_TOPIC} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in value):
        raise ValidationFailed.field("topic", "contains control characters")
    return value or None


def check_user_limit(value: int, kind: int) -> int:
    if not 0 <= value <= MAX_USER_LIMIT:
        raise ValidationFailed.field("userLimit", f"must be 0-{MAX_USER_LIMIT} (0: no limit)")
    if value and kind != VOICE:
        raise ValidationFailed.field("userLimit", "only voice channels have a user limit")
    return value


def check_type(value: int) -> int:
    if value not in SERVER_CHANNEL_TYPES:
        raise ValidationFailed.field("type", "must be 0 (text), 2 (voice), 4 (category) or 15")
    return value


async def check_parent(session: AsyncSession, server_id: int, parent_id: int) -> Channel:
    parent = await repository.get(session, parent_id)
    if parent is None or parent.server_id != server_id or parent.type != CATEGORY:
        raise ValidationFailed.field("parentId", "must be a category of this server")
    return parent


async def check_overwrites(
    session: AsyncSession,
    server_id: int,
    specs: Sequence[OverwriteSpec],
    field: str = "permissionOverwrites",
) -> dict[int, OverwriteSpec]:
    """One overwrite per target, each naming a role of this server (type 0) or one of its
    members (type 1). At most two queries, whatever the number of overwrites."""
    if len(specs) > MAX_OVERWRITES:
        raise ValidationFailed.field(field, f"must have at most {MAX_OVERWRITES} entries")
    by_target: dict[int, OverwriteSpec] = {}
    for index, spec in enumerate(specs):
        if spec.type not in (OVERWRITE_ROLE, OVERWRITE_MEMBER):
            raise ValidationFailed.field(f"{field}.{index}.type", "must be 0 (role) or 1 (member)")
        if spec.target_id in by_target:
            raise ValidationFailed.field(f"{field}.{index}.id", "appears more than once")
        by_target[spec.target_id] = spec
    roles = await repository.existing_roles(
        session, server_id, [s.target_id for s in specs if s.type == OVERWRITE_ROLE]
    )
    members = await repository.existing_members(
        session, server_id, [s.target_id for s in specs if s.type == OVERWRITE_MEMBER]
    )
    for index, spec in enumerate(specs):
        known = roles if spec.type == OVERWRITE_ROLE else members
        if spec.target_id not in known:
            what = "role" if spec.type == OVERWRITE_ROLE else "member"
            raise ValidationFailed.field(f"{field}.{index}.id", f"is not a {what} of this server")
    return by_target


def check_may_change_overwrites(
    perms: int,
    before: Sequence[PermissionOverwrite],
    after: dict[int, OverwriteSpec],
) -> None:
    """Discord's rule: only bits you hold yourself may be allowed or denied, and only
    administrators may touch MANAGE_ROLES in a channel. Bits an overwrite keeps unchanged
    do not count, so a moderator can edit an overwrite an administrator wrote."""
    if perms == ALL_PERMISSIONS:
        return
    old = {o.target_id: (o.allow, o.deny) for o in before}
    new = {t: (s.allow, s.deny) for t, s in after.items()}
    changed = 0
    for target in old.keys() | new.keys():
        allow0, deny0 = old.get(target, (0, 0))
        allow1, deny1 = new.get(target, (0, 0))
        changed |= (allow0 ^ allow1) | (deny0 ^ deny1)
    if changed & Permission.MANAGE_ROLES:
        raise Forbidden("Only administrators can set MANAGE_ROLES in a channel")
    missing = changed & ~perms
    if missing:
        raise Forbidden(
            f"You cannot allow or deny permissions you do not have: {Permission(missing).name}"
        )


# --- reading -------------------------------------------------------------------------


def _visible(server: ServerAccess, channel: Channel, rows: Sequence[PermissionOverwrite]) -> bool:
    perms = channel_permissions(
        server.permissions,
        everyone_id=server.server.id,
        member_id=server.member.user_id,
        member_role_ids=server.role_ids,
        overwrites=[Overwrite(o.target_id, o.type, o.allow, o.deny) for o in rows],
    )
    return has(perms, Permission.VIEW_CHANNEL)


async def list_visible(session: AsyncSession, actor: Actor, server_id: int) -> list[ChannelView]:
    """The server's channels the actor can view, in position order. Four queries: the
    membership, the roles, the channels and all their overwrites."""
    server = await access_server(session, actor, server_id)
    channels = await repository.in_server(session, server.server.id)
    overwrites = await repository.overwrites_in_server(session, server.server.id)
    return [
        ChannelView(channel, overwrites.get(channel.id, ()))
        for channel in channels
        if _visible(server, channel, overwrites.get(channel.id, ()))
    ]


async def view_of(session: AsyncSession, channel: Channel) -> ChannelView:
    if channel.server_id is None:
        participants = await dms_repository.participants(session, [channel.id])
        return ChannelView(channel, participants=participants.get(channel.id, []))
    return ChannelView(channel, await repository.overwrites_of(session, channel.id))


async def get_channel(session: AsyncSession, actor: Actor, channel_id: int) -> ChannelView:
    found = await access_channel(session, actor, channel_id)
    return await view_of(session, found.channel)


# --- changing ------------------------------------------------------------------------


def _audience(channel: Channel) -> Audience:
    return Audience(server_id=channel.server_id, channel_id=channel.id)


def _rows(channel_id: int, specs: dict[int, OverwriteSpec]) -> list[PermissionOverwrite]:
    return [
        PermissionOverwrite(
            channel_id=channel_id, target_id=s.target_id, type=s.type, allow=s.allow, deny=s.deny
        )
        for s in specs.values()
    ]


async def do_create_channel(
    session: AsyncSession, actor: Actor, server_id: int, new: NewChannel
) -> ChannelView:
    """Needs MANAGE_CHANNELS in the server. Appended after the existing channels unless a
    position is given. Emits CHANNEL_CREATE to the server."""
    server = (await access_server(session, actor, server_id)).require(Permission.MANAGE_CHANNELS)
    sid = server.server.id
    name = check_name(new.name)
    kind = check_type(new.type)
    topic = check_topic(new.topic)
    user_limit = check_user_limit(new.user_limit, kind)
    if new.parent_id is not None:
        if kind == CATEGORY:
            raise ValidationFailed.field("parentId", "a category cannot have a parent")
        await check_parent(session, sid, new.parent_id)
    overwrites = await check_overwrites(session, sid, new.overwrites)
    check_may_change_overwrites(server.permissions, (), overwrites)
    count = await repository.count_in_server(session, sid)
    if count >= MAX_CHANNELS_PER_SERVER:
        raise ValidationFailed(f"A server can have at most {MAX_CHANNELS_PER_SERVER} channels")
    channel = Channel(
        id=ids.new_id(),
        server_id=sid,
        type=kind,
        name=name,
        topic=topic,
        parent_id=new.parent_id,
        position=count if new.position is None else new.position,
        nsfw=new.nsfw,
        user_limit=user_limit,
    )
    session.add(channel)
    await session.flush()  # the channel row first: the overwrites reference it
    rows = _rows(channel.id, overwrites)
    session.add_all(rows)
    await session.flush()
    view = ChannelView(channel, sorted(rows, key=lambda o: o.target_id))
    audit.record(
        session,
        "CHANNEL_CREATE",
        actor.user_id,
        server_id=sid,
        target_id=channel.id,
        options={"name": name, "type": kind},
    )
    emit(session, "CHANNEL_CREATE", view.payload(actor.user_id), _audience(channel))
    return view


async def do_update_channel(
    session: AsyncSession, actor: Actor, channel_id: int, changes: ChannelChanges
) -> ChannelView:
    """Needs MANAGE_CHANNELS, and MANAGE_ROLES as well to replace the overwrites. Emits
    CHANNEL_UPDATE."""
    found = (await access_channel(session, actor, channel_id)).require(Permission.MANAGE_CHANNELS)
    channel = found.channel
    assert channel.server_id is not None  # DMs lack MANAGE_CHANNELS
    current = await repository.overwrites_of(session, channel.id)
    overwrites: dict[int, OverwriteSpec] | None = None
    if changes.overwrites is not None:
        found.require(Permission.MANAGE_ROLES)
        overwrites = await check_overwrites(session, channel.server_id, changes.overwrites)
        check_may_change_overwrites(found.permissions, current, overwrites)
    name = check_name(changes.name) if changes.name is not None else channel.name
    topic = channel.topic if isinstance(changes.topic, Unset) else check_topic(changes.topic)
    parent_id = channel.parent_id
    if not isinstance(changes.parent_id, Unset):
        parent_id = changes.parent_id
        if parent_id is not None:
            if channel.type == CATEGORY:
                raise ValidationFailed.field("parentId", "a category cannot have a parent")
            await check_parent(session, channel.server_id, parent_id)
    channel.name, channel.topic, channel.parent_id = name, topic, parent_id
    if changes.position is not None:
        channel.position = changes.position
    if changes.nsfw is not None:
        channel.nsfw = changes.nsfw
    if changes.user_limit is not None:
        channel.user_limit = check_user_limit(changes.user_limit, channel.type)
    await session.flush()
    audit.record(
        session,
        "CHANNEL_UPDATE",
        actor.user_id,
        server_id=channel.server_id,
        target_id=channel.id,
        options={"changes": audit.given(changes)},
    )
    if overwrites is not None:
        current = await repository.replace_overwrites(
            session, current, _rows(channel.id, overwrites)
        )
    view = ChannelView(channel, current)
    emit(session, "CHANNEL_UPDATE", view.payload(actor.user_id), _audience(channel))
    return view


async def do_delete_channel(session: AsyncSession, actor: Actor, channel_id: int) -> None:
    """Needs MANAGE_CHANNELS. A deleted category's channels stay, without a parent (each
    gets a CHANNEL_UPDATE). Messages, reactions and invites of the channel go with it."""
    found = (await access_channel(session, actor, channel_id)).require(Permission.MANAGE_CHANNELS)
    channel = found.channel
    gone = ChannelView(channel, await repository.overwrites_of(session, channel.id))
    payload = gone.payload(actor.user_id)
    if channel.type == CATEGORY:
        children = await repository.children_of(session, channel.id)
        if children:
            await repository.detach_children(session, channel.id)
            assert channel.server_id is not None
            overwrites = await repository.overwrites_in_server(session, channel.server_id)
            for child in children:
                data = payloads.server_channel(child, overwrites.get(child.id, ()))
                data["parentId"] = None  # the loaded row predates the UPDATE
                emit(session, "CHANNEL_UPDATE", data, _audience(child))
    await repository.remove(session, channel.id)
    audit.record(
        session,
        "CHANNEL_DELETE",
        actor.user_id,
        server_id=channel.server_id,
        target_id=channel.id,
        options={"name": channel.name, "type": channel.type},
    )
    emit(session, "CHANNEL_DELETE", payload, _audience(channel))


async def _access_overwrites(
    session: AsyncSession, actor: Actor, channel_id: int
) -> tuple[ChannelAccess, list[PermissionOverwrite]]:
    found = (await access_channel(session, actor, channel_id)).require(Permission.MANAGE_ROLES)
    return found, await repository.overwrites_of(session, found.channel.id)


async def do_put_overwrite(
    session: AsyncSession, actor: Actor, channel_id: int, spec: OverwriteSpec
) -> ChannelView:
    """Creates or replaces the overwrite of one role or member. Needs MANAGE_ROLES in the
    channel; the target must be a role (type 0) or member (type 1) of the server, else 404.
    Emits CHANNEL_UPDATE."""
    found, current = await _access_overwrites(session, actor, channel_id)
    channel = found.channel
    assert channel.server_id is not None
    if is_thread(channel):
        raise ValidationFailed("A thread has no overwrites of its own: it follows its channel's")
    try:
        await check_overwrites(session, channel.server_id, [spec])
    except ValidationFailed:
        raise NotFound("Role" if spec.type == OVERWRITE_ROLE else "Member") from None
    after = {o.target_id: OverwriteSpec(o.target_id, o.type, o.allow, o.deny) for o in current}
    existed = spec.target_id in after
    after[spec.target_id] = spec
    check_may_change_overwrites(found.permissions, current, after)
    audit.record(
        session,
        "CHANNEL_OVERWRITE_UPDATE" if existed else "CHANNEL_OVERWRITE_CREATE",
        actor.user_id,
        server_id=channel.server_id,
        target_id=channel.id,
        options={"id": spec.target_id, "type": spec.type, "allow": spec.allow, "deny": spec.deny},
    )
    rows = await repository.replace_overwrites(session, current, _rows(channel.id, after))
    view = ChannelView(channel, rows)
    emit(session, "CHANNEL_UPDATE", view.payload(actor.user_id), _audience(channel))
    return view


async def do_delete_overwrite(
    session: AsyncSession, actor: Actor, channel_id: int, target_id: int
) -> None:
    """Needs MANAGE_ROLES in the channel; 404 when the channel has no overwrite for the
    target. Emits CHANNEL_UPDATE."""
    found, current = await _access_overwrites(session, actor, channel_id)
    if not any(o.target_id == target_id for o in current):
        raise NotFound("Permission overwrite")
    after = {
        o.target_id: OverwriteSpec(o.target_id, o.type, o.allow, o.deny)
        for o in current
        if o.target_id != target_id
    }
    check_may_change_overwrites(found.permissions, current, after)
    audit.record(
        session,
        "CHANNEL_OVERWRITE_DELETE",
        actor.user_id,
        server_id=found.channel.server_id,
        target_id=found.channel.id,
        options={"id": target_id},
    )
    rows = await repository.replace_overwrites(session, current, _rows(found.channel.id, after))
    view = ChannelView(found.channel, rows)
    emit(session, "CHANNEL_UPDATE", view.payload(actor.user_id), _audience(found.channel))
