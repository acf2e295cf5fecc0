"""SQL for server membership and bans."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Ban, Member


async def get(session: AsyncSession, server_id: int, user_id: int) -> Member | None:
    return await session.get(Member, (server_id, user_id))


async def ban_of(session: AsyncSession, server_id: int, user_id: int) -> Ban | None:
    return await session.scalar(
        select(Ban).where(Ban.server_id == server_id, Ban.user_id == user_id)
    )
