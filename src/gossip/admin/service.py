"""Platform administration: admin accounts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import service as auth_service
from gossip.db.models import User
from gossip.users import repository as users


async def do_create_admin(
    session: AsyncSession, *, email: str, username: str, password_hash: str
) -> User:
    """Creates an administrator, or promotes the account that already has this email."""
    existing = await users.by_email(session, email)
    if existing is not None:
        await users.set_fields(session, existing.id, is_admin=True, disabled=False)
        await session.refresh(existing)
        return existing
    user = await auth_service.do_register(
        session, username=username, email=email, password_hash=password_hash
    )
    user.is_admin = True
    await session.flush()
    return user
