"""SQL for login sessions (refresh-token families)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import cache
from gossip.db.models import AuthSession, User


async def get(session: AsyncSession, session_id: int) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


async def with_user(session: AsyncSession, session_id: int) -> tuple[AuthSession, User] | None:
    """The login session and its user in one round trip: every authenticated request asks."""
    row = (
        await session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == session_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def revoke(session: AsyncSession, session_id: int) -> None:
    cache.mark(session)
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(revoked=True)
    )


async def revoke_all_for_user(session: AsyncSession, user_id: int) -> None:
    cache.mark(session)
    await session.execute(
        update(AuthSession).where(AuthSession.user_id == user_id).values(revoked=True)
    )


async def rotate(
    session: AsyncSession, session_id: int, old_hash: str, new_hash: str, expires_at: datetime
) -> bool:
    """Swap the refresh hash only if it is still `old_hash`: two racing refreshes with the
    same token cannot both win."""
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.refresh_hash == old_hash,
            AuthSession.revoked.is_(False),
        )
        .values(refresh_hash=new_hash, expires_at=expires_at)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]
