"""SQL that decides what a user may see: memberships, roles, overwrites, DM recipients."""

from __future__ import annotations

from sqlalchemy import or_, select
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
    rows = await session.scalars(
        select(PermissionOverwrite).where(PermissionOverwrite.channel_id == channel_id)
    )
    return [Overwrite(o.target_id, o.type, o.allow, o.deny) for o in rows]


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
