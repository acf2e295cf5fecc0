"""SQL for servers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Member, Server


@dataclass(frozen=True, slots=True)
class Membership:
    server: Server
    joined_at: datetime
    member_count: int


async def memberships(session: AsyncSession, user_id: int) -> list[Membership]:
    counts = (
        select(Member.server_id, func.count().label("n"))
        .where(Member.server_id.in_(select(Member.server_id).where(Member.user_id == user_id)))
        .group_by(Member.server_id)
        .subquery()
    )
    rows = await session.execute(
        select(Server, Member.joined_at, counts.c.n)
        .join(Member, Member.server_id == Server.id)
        .join(counts, counts.c.server_id == Server.id)
        .where(Member.user_id == user_id)
        .order_by(Member.joined_at, Server.id)
    )
    return [Membership(r[0], r[1], int(r[2])) for r in rows]


async def member_count(session: AsyncSession, server_id: int) -> int:
    count = await session.scalar(select(func.count()).where(Member.server_id == server_id))
    return int(count or 0)


async def channel_count(session: AsyncSession, server_id: int) -> int:
    count = await session.scalar(select(func.count()).where(Channel.server_id == server_id))
    return int(count or 0)


async def server_ids_of(session: AsyncSession, user_id: int) -> list[int]:
    return list(await session.scalars(select(Member.server_id).where(Member.user_id == user_id)))
