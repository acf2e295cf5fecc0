"""SQL that decides what a user may see: memberships, roles, overwrites, DM recipients."""

from __future__ import annotations

from sqlalchemy import and_, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import (
    Channel,
    DMRecipient,
    Member,
    MemberRole,
    PermissionOverwrite,
    Role,
    Server,
)
from gossip.kit.permissions import Overwrite


async def server_and_member(
    session: AsyncSession, server_id: int, user_id: int
) -> tuple[Server, Member] | None:
    row = (
        await session.execute(
            select(Server, Member)
            .join(Member, Member.server_id == Server.id)
            .where(Server.id == server_id, Member.user_id == user_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def roles_of_member(
    session: AsyncSession, server_id: int, user_id: int
) -> list[tuple[int, int, int]]:
    """(id, permissions, position) of @everyone and of every role the member holds."""
    held = select(MemberRole.role_id).where(
        MemberRole.server_id == server_id, MemberRole.user_id == user_id
    )
    rows = await session.execute(
        select(Role.id, Role.permissions, Role.position).where(
            or_(Role.id == server_id, Role.id.in_(held))
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def overwrites(session: AsyncSession, channel_id: int) -> list[Overwrite]:
    rows = await session.execute(
        select(
            PermissionOverwrite.target_id,
            PermissionOverwrite.type,
            PermissionOverwrite.allow,
            PermissionOverwrite.deny,
        ).where(PermissionOverwrite.channel_id == channel_id)
    )
    return [Overwrite(r[0], r[1], r[2], r[3]) for r in rows]


async def channel_server_member(
    session: AsyncSession, channel_id: int, user_id: int
) -> tuple[Channel, Server | None, Member | None] | None:
    """The channel with its server and the user's membership of it, in one query (each
    None for a DM, or the membership when the user is not in the server)."""
    row = (
        await session.execute(
            select(Channel, Server, Member)
            .outerjoin(Server, Server.id == Channel.server_id)
            .outerjoin(
                Member, and_(Member.server_id == Channel.server_id, Member.user_id == user_id)
            )
            .where(Channel.id == channel_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def roles_and_overwrites(
    session: AsyncSession, server_id: int, user_id: int, channel_id: int
) -> tuple[list[tuple[int, int, int]], list[Overwrite]]:
    """`roles_of_member` and `overwrites` of a channel in one round trip."""
    held = select(MemberRole.role_id).where(
        MemberRole.server_id == server_id, MemberRole.user_id == user_id
    )
    roles = select(
        literal_column("0").label("kind"),
        Role.id,
        Role.permissions,
        Role.position,
        literal_column("0").label("deny"),
    ).where(or_(Role.id == server_id, Role.id.in_(held)))
    overwrites = select(
        literal_column("1"),
        PermissionOverwrite.target_id,
        PermissionOverwrite.allow,
        PermissionOverwrite.type,
        PermissionOverwrite.deny,
    ).where(PermissionOverwrite.channel_id == channel_id)
    found_roles: list[tuple[int, int, int]] = []
    found_overwrites: list[Overwrite] = []
    for kind, target, a, b, deny in await session.execute(union_all(roles, overwrites)):
        if kind == 0:
            found_roles.append((target, a, b))
        else:
            found_overwrites.append(Overwrite(target, b, a, deny))
    return found_roles, found_overwrites


async def channel(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def is_dm_recipient(session: AsyncSession, channel_id: int, user_id: int) -> bool:
    found = await session.scalar(
        select(DMRecipient.user_id).where(
            DMRecipient.channel_id == channel_id, DMRecipient.user_id == user_id
        )
    )
    return found is not None


# --- in bulk: every place a user may read (search) ------------------------------------------


async def memberships(
    session: AsyncSession, user_id: int, server_id: int | None = None
) -> list[tuple[int, int]]:
    """(server id, owner id) of every server the user is a member of (or just `server_id`)."""
    query = (
        select(Server.id, Server.owner_id)
        .join(Member, Member.server_id == Server.id)
        .where(Member.user_id == user_id)
    )
    if server_id is not None:
        query = query.where(Server.id == server_id)
    return [(r[0], r[1]) for r in await session.execute(query)]


async def roles_in_servers(
    session: AsyncSession, user_id: int, server_ids: list[int]
) -> list[tuple[int, int, int]]:
    """(server id, role id, permissions) of @everyone and of every role the user holds, in
    each of `server_ids`."""
    held = select(MemberRole.role_id).where(
        MemberRole.user_id == user_id, MemberRole.server_id.in_(server_ids)
    )
    rows = await session.execute(
        select(Role.server_id, Role.id, Role.permissions).where(
            Role.server_id.in_(server_ids), or_(Role.id == Role.server_id, Role.id.in_(held))
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def channels_in_servers(
    session: AsyncSession, server_ids: list[int]
) -> list[tuple[int, int, int, int | None]]:
    """(id, server id, type, parent id) of every channel and thread of `server_ids`."""
    rows = await session.execute(
        select(Channel.id, Channel.server_id, Channel.type, Channel.parent_id).where(
            Channel.server_id.in_(server_ids)
        )
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def overwrites_in_servers(
    session: AsyncSession, server_ids: list[int]
) -> dict[int, list[Overwrite]]:
    """Every overwrite of every channel of `server_ids`, by channel."""
    found: dict[int, list[Overwrite]] = {}
    if not server_ids:
        return found
    rows = await session.scalars(
        select(PermissionOverwrite)
        .join(Channel, Channel.id == PermissionOverwrite.channel_id)
        .where(Channel.server_id.in_(server_ids))
    )
    for o in rows:
        found.setdefault(o.channel_id, []).append(Overwrite(o.target_id, o.type, o.allow, o.deny))
    return found


async def dm_channel_ids(session: AsyncSession, user_id: int) -> list[int]:
    return list(
        await session.scalars(select(DMRecipient.channel_id).where(DMRecipient.user_id == user_id))
    )
