"""SQL for invites."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Invite, User


async def get(session: AsyncSession, code: str) -> Invite | None:
    return await session.get(Invite, code)


async def exists(session: AsyncSession, code: str) -> bool:
    return (await session.scalar(select(Invite.code).where(Invite.code == code))) is not None


async def count_use(session: AsyncSession, code: str) -> bool:
    """Takes one use atomically; False when the invite was used up meanwhile."""
    result = await session.execute(
        update(Invite)
        .where(Invite.code == code, (Invite.max_uses == 0) | (Invite.uses < Invite.max_uses))
        .values(uses=Invite.uses + 1)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(Invite.max_uses == 0, Invite.uses < Invite.max_uses) & or_(
        Invite.expires_at.is_(None), Invite.expires_at > now
    )


async def live_for_server(
    session: AsyncSession, server_id: int, now: datetime
) -> list[tuple[Invite, User | None]]:
    rows = await session.execute(
        select(Invite, User)
        .outerjoin(User, User.id == Invite.inviter_id)
        .where(Invite.server_id == server_id, _live(now))
        .order_by(Invite.created_at, Invite.code)
    )
    return [(r[0], r[1]) for r in rows]


async def purge_dead(session: AsyncSession, server_id: int, now: datetime) -> None:
    """Deletes the server's expired and used-up invites: they can never be used again."""
    await session.execute(
        delete(Invite)
        .where(Invite.server_id == server_id, not_(_live(now)))
        .execution_options(synchronize_session=False)
    )


async def count_for_server(session: AsyncSession, server_id: int) -> int:
    found = await session.scalar(select(func.count()).where(Invite.server_id == server_id))
    return int(found or 0)


async def add(session: AsyncSession, invite: Invite) -> None:
    session.add(invite)
    await session.flush()


async def remove(session: AsyncSession, code: str) -> None:
    await session.execute(delete(Invite).where(Invite.code == code))
