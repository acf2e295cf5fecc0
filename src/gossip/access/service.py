"""What a user may see and do. Every route that touches a server or channel starts here.

`access_*` functions return the thing with the caller's permissions or raise NotFound:
a place the caller cannot see does not exist for them, so no route can leak whether it
does. `require` then raises Forbidden for a visible place and a missing permission.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access import repository
from gossip.auth.subject import Actor
from gossip.db.models import Channel, Member, Server
from gossip.kit.errors import Forbidden, NotFound
from gossip.kit.permissions import (
    ALL_PERMISSIONS,
    Overwrite,
    Permission,
    base_permissions,
    channel_permissions,
    has,
)
from gossip.threads import THREAD_TYPES, is_thread

DM_CHANNEL_TYPES = (1, 3)

# What every participant of a DM may do; nobody moderates a DM.
DM_PERMISSIONS = int(
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.SEND_TTS_MESSAGES
)

OWNER_RANK = 1 << 40  # above any role position


def _need(perms: int, needed: int) -> None:
    if not has(perms, needed):
        missing = Permission(needed & ~perms)
        raise Forbidden(f"Missing permission: {missing.name or int(missing)}")


@dataclass(frozen=True, slots=True)
class ServerAccess:
    server: Server
    member: Member
    role_ids: frozenset[int]
    permissions: int
    # The position of the member's highest role; the owner outranks everyone.
    rank: int

    @property
    def is_owner(self) -> bool:
        return self.server.owner_id == self.member.user_id

    def require(self, needed: int) -> ServerAccess:
        _need(self.permissions, needed)
        return self

    def require_owner(self) -> ServerAccess:
        if not self.is_owner:
            raise Forbidden("Only the server owner can do this")
        return self

    def require_outranks(self, target_rank: int, what: str = "member") -> None:
        """Role hierarchy: nobody acts on a member or role at or above their own highest."""
        if not self.is_owner and target_rank >= self.rank:
            raise Forbidden(f"You cannot manage a {what} at or above your highest role")


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    channel: Channel
    server: ServerAccess | None
    permissions: int

    def require(self, needed: int) -> ChannelAccess:
        _need(self.permissions, needed)
        return self

    @property
    def is_dm(self) -> bool:
        return self.server is None


async def rank_of(session: AsyncSession, server: Server, user_id: int) -> int:
    if server.owner_id == user_id:
        return OWNER_RANK
    roles = await repository.roles_of_member(session, server.id, user_id)
    return max((position for role_id, _, position in roles if role_id != server.id), default=0)


async def access_server(session: AsyncSession, actor: Actor, server_id: int | None) -> ServerAccess:
    found = (
        await repository.server_and_member(session, server_id, actor.user_id) if server_id else None
    )
    if found is None:
        raise NotFound("Server")
    server, member = found
    roles = await repository.roles_of_member(session, server.id, actor.user_id)
    return _server_access(server, member, roles)


@dataclass(frozen=True, slots=True)
class _Standing:
    """What a member's roles give them in a server, before any channel's overwrites."""

    role_ids: frozenset[int]
    permissions: int
    rank: int


def _standing(
    server_id: int, owner_id: int, user_id: int, roles: list[tuple[int, int, int]]
) -> _Standing:
    """From @everyone and the member's roles, as (id, permissions, position)."""
    everyone = next((perms for role_id, perms, _ in roles if role_id == server_id), 0)
    others = [(role_id, perms, pos) for role_id, perms, pos in roles if role_id != server_id]
    is_owner = owner_id == user_id
    return _Standing(
        role_ids=frozenset(role_id for role_id, _, _ in others),
        permissions=base_permissions(
            is_owner=is_owner, everyone=everyone, role_permissions=(p for _, p, _ in others)
        ),
        rank=OWNER_RANK if is_owner else max((pos for _, _, pos in others), default=0),
    )


def _in_channel(
    standing: _Standing, server_id: int, user_id: int, overwrites: list[Overwrite]
) -> int:
    if standing.permissions == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    return channel_permissions(
        standing.permissions,
        everyone_id=server_id,
        member_id=user_id,
        member_role_ids=standing.role_ids,
        overwrites=overwrites,
    )


def _server_access(
    server: Server, member: Member, roles: list[tuple[int, int, int]]
) -> ServerAccess:
    standing = _standing(server.id, server.owner_id, member.user_id, roles)
    return ServerAccess(
        server=server,
        member=member,
        role_ids=standing.role_ids,
        permissions=standing.permissions,
        rank=standing.rank,
    )


def _overwrites_source(channel: Channel) -> int:
    # A thread has no overwrites of its own: it is seen and used as its parent is (Discord).
    # (repository._grant_statement says the same in SQL.)
    return channel.parent_id if is_thread(channel) and channel.parent_id else channel.id


def _apply_overwrites(
    server_access: ServerAccess, channel: Channel, overwrites: list[Overwrite]
) -> int:
    standing = _Standing(server_access.role_ids, server_access.permissions, server_access.rank)
    return _in_channel(standing, server_access.server.id, server_access.member.user_id, overwrites)


async def permissions_in(
    session: AsyncSession, server_access: ServerAccess, channel: Channel
) -> int:
    if server_access.permissions == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    overwrites = await repository.overwrites(session, _overwrites_source(channel))
    return _apply_overwrites(server_access, channel, overwrites)


async def access_channel(
    session: AsyncSession, actor: Actor, channel_id: int | None
) -> ChannelAccess:
    """The channel if the actor can see it (VIEW_CHANNEL, or a DM they are in).

    Two queries for a server channel (every route touching a channel starts here, sends
    most of all): the channel with its server and the membership, then the member's roles
    with the channel's overwrites."""
    found = (
        await repository.channel_server_member(session, channel_id, actor.user_id)
        if channel_id
        else None
    )
    if found is None:
        raise NotFound("Channel")
    channel, server, member = found
    if channel.server_id is None:
        if not await repository.is_dm_recipient(session, channel.id, actor.user_id):
            raise NotFound("Channel")
        return ChannelAccess(channel, None, DM_PERMISSIONS)
    if server is None or member is None:
        raise NotFound("Channel")
    roles, overwrites = await repository.roles_and_overwrites(
        session, server.id, actor.user_id, _overwrites_source(channel)
    )
    server_access = _server_access(server, member, roles)
    perms = _apply_overwrites(server_access, channel, overwrites)
    if not has(perms, Permission.VIEW_CHANNEL):
        raise NotFound("Channel")
    return ChannelAccess(channel, server_access, perms)


@dataclass(frozen=True, slots=True)
class ChannelGrant:
    """A channel the caller can see and what they may do there, as plain values: what
    `access_channel` decides, for the hot paths that need no ORM object of the channel
    (sending a message)."""

    channel_id: int
    server_id: int | None  # None for a DM or group DM
    type: int
    parent_id: int | None
    permissions: int

    def require(self, needed: int) -> ChannelGrant:
        _need(self.permissions, needed)
        return self

    @property
    def is_dm(self) -> bool:
        return self.server_id is None


async def access_channel_grant(
    session: AsyncSession, actor: Actor, channel_id: int | None
) -> ChannelGrant:
    """The same decision as `access_channel` (the same rules and permission math), from
    one Core statement instead of ORM objects: NotFound unless the actor can see it."""
    rows = await repository.grant_rows(session, channel_id, actor.user_id) if channel_id else []
    return grant_from_rows(rows, actor.user_id)


def grant_from_rows(rows: Sequence[Sequence[Any]], user_id: int) -> ChannelGrant:
    """The decision of `access_channel_grant` from the rows of the grant statement
    (repository.grant_rows, or the group commit's own run of it): pure, no I/O."""
    head = next((row for row in rows if row[0] == 0), None)
    if head is None:
        raise NotFound("Channel")
    _, cid, server_id, kind, parent_id, owner_id, member_id, recipient_id = head
    if server_id is None:
        if recipient_id is None:
            raise NotFound("Channel")
        return ChannelGrant(cid, None, kind, parent_id, DM_PERMISSIONS)
    if owner_id is None or member_id is None:
        raise NotFound("Channel")
    roles = [(row[1], row[2], row[3]) for row in rows if row[0] == 1]
    overwrites = [Overwrite(row[1], row[2], row[3], row[4]) for row in rows if row[0] == 2]
    standing = _standing(server_id, owner_id, user_id, roles)
    perms = _in_channel(standing, server_id, user_id, overwrites)
    if not has(perms, Permission.VIEW_CHANNEL):
        raise NotFound("Channel")
    return ChannelGrant(cid, server_id, kind, parent_id, perms)


async def readable_channel_ids(
    session: AsyncSession,
    actor: Actor,
    needed: int,
    *,
    server_id: int | None = None,
    include_dms: bool = True,
) -> list[int]:
    """Every channel (threads included) where the actor holds `needed`, by the very rules
    of access_channel (membership, roles, overwrites in Discord's order, a thread as its
    parent), computed for all their servers in five queries; plus the DMs and group DMs
    they are in (whose permissions are DM_PERMISSIONS). With `server_id`, that server's
    channels only. Search used it until `visible_channels` read the same in one
    statement; it stays as the independent reference that test_access_visible holds
    `visible_channels` to."""
    servers = await repository.memberships(session, actor.user_id, server_id)
    readable: list[int] = []
    if servers:
        server_ids = [s for s, _ in servers]
        everyone: dict[int, int] = {}
        held: dict[int, list[tuple[int, int]]] = {}
        for sid, role_id, perms in await repository.roles_in_servers(
            session, actor.user_id, server_ids
        ):
            if role_id == sid:
                everyone[sid] = perms
            else:
                held.setdefault(sid, []).append((role_id, perms))
        base = {
            sid: base_permissions(
                is_owner=owner_id == actor.user_id,
                everyone=everyone.get(sid, 0),
                role_permissions=(p for _, p in held.get(sid, ())),
            )
            for sid, owner_id in servers
        }
        role_sets = {sid: frozenset(r for r, _ in roles) for sid, roles in held.items()}
        channels = await repository.channels_in_servers(session, server_ids)
        overwrites = await repository.overwrites_in_servers(
            session, [sid for sid, perms in base.items() if perms != ALL_PERMISSIONS]
        )
        for cid, sid, kind, parent_id in channels:
            perms = base[sid]
            if perms != ALL_PERMISSIONS:
                # As permissions_in: a thread has no overwrites of its own.
                source = parent_id if kind in THREAD_TYPES and parent_id else cid
                perms = channel_permissions(
                    perms,
                    everyone_id=sid,
                    member_id=actor.user_id,
                    member_role_ids=role_sets.get(sid, frozenset()),
                    overwrites=overwrites.get(source, ()),
                )
            if has(perms, needed):
                readable.append(cid)
    if include_dms and server_id is None and has(DM_PERMISSIONS, needed):
        readable.extend(await repository.dm_channel_ids(session, actor.user_id))
    return readable


@dataclass(frozen=True, slots=True)
class VisibleChannel:
    """A channel (or thread, DM, group DM) the caller can see, with what they may do there
    and what search shows of it, as plain values."""

    id: int
    server_id: int | None  # None for a DM or group DM
    type: int
    name: str | None
    message_count: int  # kept by the database's triggers (migration 0007)
    permissions: int

    def require(self, needed: int) -> VisibleChannel:
        _need(self.permissions, needed)
        return self


async def visible_channels(
    session: AsyncSession,
    actor: Actor,
    *,
    server_id: int | None = None,
    channel_id: int | None = None,
) -> list[VisibleChannel]:
    """Every channel the actor can see (VIEW_CHANNEL after overwrites, a thread as its
    parent; every DM and group DM they are in), by the rules of `access_channel`, in one
    statement: with `channel_id`, that channel alone (none if they cannot see it); with
    `server_id`, that server's channels, and NotFound("Server") unless they are a member,
    as `access_server`. For search, which must never look where the actor may not read."""
    rows = await repository.visible_rows(
        session, actor.user_id, server_id=server_id, channel_id=channel_id
    )
    owners: dict[int, int] = {}
    roles: dict[int, list[tuple[int, int, int]]] = {}
    channels = []
    overwrites: dict[int, list[Overwrite]] = {}
    found: list[VisibleChannel] = []
    for row in rows:
        kind = row[0]
        if kind == 0:
            owners[row[1]] = row[2]
        elif kind == 1:
            roles.setdefault(row[1], []).append((row[2], row[3], 0))
        elif kind == 2:
            channels.append(row)
        elif kind == 3:
            overwrites.setdefault(row[1], []).append(Overwrite(row[2], row[3], row[4], row[5]))
        else:
            found.append(VisibleChannel(row[1], None, row[3], row[6], row[5], DM_PERMISSIONS))
    if server_id is not None and channel_id is None and server_id not in owners:
        raise NotFound("Server")
    standings = {
        sid: _standing(sid, owner_id, actor.user_id, roles.get(sid, []))
        for sid, owner_id in owners.items()
    }
    for _, cid, sid, kind, parent_id, count, name in channels:
        standing = standings.get(sid)
        if standing is None:
            continue
        # As _overwrites_source: a thread has no overwrites of its own.
        source = parent_id if kind in THREAD_TYPES and parent_id else cid
        perms = _in_channel(standing, sid, actor.user_id, overwrites.get(source, []))
        if has(perms, Permission.VIEW_CHANNEL):
            found.append(VisibleChannel(cid, sid, kind, name, count, perms))
    return found
