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
