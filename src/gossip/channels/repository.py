"""SQL for server channels and their permission overwrites."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Member, PermissionOverwrite, Role
from gossip.threads import THREAD_TYPES


async def get(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def in_server(session: AsyncSession, server_id: int) -> list[Channel]:
    """The server's channels; threads are listed by their parent, as in Discord."""
    rows = await session.scalars(
        select(Channel)
        .where(Channel.server_id == server_id, Channel.type.not_in(THREAD_TYPES))
        .order_by(Channel.position, Channel.id)
    )
    return list(rows)


async def count_in_server(session: AsyncSession, server_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Channel)
        .where(Channel.server_id == server_id, Channel.type.not_in(THREAD_TYPES))
    )
    return int(count or 0)


async def overwrites_in_server(
    session: AsyncSession, server_id: int
) -> dict[int, list[PermissionOverwrite]]:
    """Every overwrite of every channel of the server, by channel: one query for a list."""
    rows = await session.scalars(
        select(PermissionOverwrite)
        .join(Channel, Channel.id == PermissionOverwrite.channel_id)
        .where(Channel.server_id == server_id)
        .order_by(PermissionOverwrite.channel_id, PermissionOverwrite.target_id)
    )
    found: dict[int, list[PermissionOverwrite]] = {}
    for row in rows:
        found.setdefault(row.channel_id, []).append(row)
    return found


async def overwrites_of(session: AsyncSession, channel_id: int) -> list[PermissionOverwrite]:
    rows = await session.scalars(
        select(PermissionOverwrite)
        .where(PermissionOverwrite.channel_id == channel_id)
        .order_by(PermissionOverwrite.target_id)
    )
    return list(rows)


async def children_of(session: AsyncSession, category_id: int) -> list[Channel]:
    rows = await session.scalars(
        select(Channel).where(Channel.parent_id == category_id).order_by(Channel.id)
    )
    return list(rows)


async def existing_roles(session: AsyncSession, server_id: int, ids: Collection[int]) -> set[int]:
    if not ids:
        return set()
    rows = await session.scalars(
        select(Role.id).where(Role.server_id == server_id, Role.id.in_(list(ids)))
    )
    return set(rows)


async def existing_members(session: AsyncSession, server_id: int, ids: Collection[int]) -> set[int]:
    if not ids:
        return set()
    rows = await session.scalars(
        select(Member.user_id).where(Member.server_id == server_id, Member.user_id.in_(list(ids)))
    )
    return set(rows)


async def replace_overwrites(
    session: AsyncSession,
    current: Sequence[PermissionOverwrite],
    wanted: Sequence[PermissionOverwrite],
) -> list[PermissionOverwrite]:
    """Makes the channel's overwrites `wanted`, changing rows in place where the target
    stays (the loaded rows are in the session, so delete-all-and-insert would clash)."""
    by_target = {o.target_id: o for o in current}
    result: list[PermissionOverwrite] = []
    for row in wanted:
        existing = by_target.pop(row.target_id, None)
        if existing is None:
            session.add(row)
            result.append(row)
        else:
            existing.type, existing.allow, existing.deny = row.type, row.allow, row.deny
            result.append(existing)
    for stale in by_target.values():
        await session.delete(stale)
    await session.flush()
    return sorted(result, key=lambda o: o.target_id)


async def detach_children(session: AsyncSession, category_id: int) -> None:
    await session.execute(
        update(Channel).where(Channel.parent_id == category_id).values(parent_id=None)
    )


async def remove(session: AsyncSession, channel_id: int) -> None:
    """Deletes the channel and its threads; their messages, reactions, overwrites and
    invites go with them (ON DELETE CASCADE)."""
    await session.execute(
        delete(Channel).where(Channel.parent_id == channel_id, Channel.type.in_(THREAD_TYPES))
    )
    await session.execute(delete(Channel).where(Channel.id == channel_id))
