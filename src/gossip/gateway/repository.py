"""SQL the gateway needs: what a server's permission picture looks like right now."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, MemberRole, PermissionOverwrite, Role, Server
from gossip.kit.permissions import Overwrite
from gossip.threads import THREAD_TYPES


async def server_owner(session: AsyncSession, server_id: int) -> int | None:
    return await session.scalar(select(Server.owner_id).where(Server.id == server_id))


async def role_permissions(session: AsyncSession, server_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(Role.id, Role.permissions).where(Role.server_id == server_id)
    )
    return {r[0]: r[1] for r in rows}


async def channel_overwrites(session: AsyncSession, server_id: int) -> dict[int, list[Overwrite]]:
    """Every channel of the server, with its overwrites (an empty list when it has none).
    A thread has none of its own and gets its parent's list: it is seen exactly when its
    parent is (and by nobody if the parent is gone)."""
    channels = (
        await session.execute(
            select(Channel.id, Channel.type, Channel.parent_id).where(
                Channel.server_id == server_id
            )
        )
    ).all()
    result: dict[int, list[Overwrite]] = {cid: [] for cid, _, _ in channels}
    rows = await session.execute(
        select(PermissionOverwrite)
        .join(Channel, Channel.id == PermissionOverwrite.channel_id)
        .where(Channel.server_id == server_id)
    )
    for (o,) in rows:
        result.setdefault(o.channel_id, []).append(Overwrite(o.target_id, o.type, o.allow, o.deny))
    for cid, kind, parent_id in channels:
        if kind in THREAD_TYPES:
            parent = result.get(parent_id) if parent_id is not None else None
            if parent is None:
                del result[cid]
            else:
                result[cid] = parent
    return result


async def member_roles(
    session: AsyncSession, server_id: int, user_ids: Collection[int]
) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {uid: set() for uid in user_ids}
    if not user_ids:
        return result
    rows = await session.execute(
        select(MemberRole.user_id, MemberRole.role_id).where(
            MemberRole.server_id == server_id, MemberRole.user_id.in_(list(user_ids))
        )
    )
    for user_id, role_id in rows:
        result[user_id].add(role_id)
    return result


async def dm_recipients(session: AsyncSession, channel_id: int) -> list[int]:
    from gossip.db.models import DMRecipient

    return list(
        await session.scalars(
            select(DMRecipient.user_id).where(DMRecipient.channel_id == channel_id)
        )
    )
