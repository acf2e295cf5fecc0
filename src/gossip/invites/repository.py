"""SQL for invites."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Invite


async def get(session: AsyncSession, code: str) -> Invite | None:
    return await session.get(Invite, code)


async def count_use(session: AsyncSession, code: str) -> bool:
    """Takes one use atomically; False when the invite was used up meanwhile."""
    result = await session.execute(
        update(Invite)
        .where(Invite.code == code, (Invite.max_uses == 0) | (Invite.uses < Invite.max_uses))
        .values(uses=Invite.uses + 1)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]
