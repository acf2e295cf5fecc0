"""Rules for invites: who may create them, and joining a server through one."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Invite
from gossip.invites import repository
from gossip.kit.errors import NotFound
from gossip.kit.timefmt import utcnow
from gossip.members import service as members_service


def is_live(invite: Invite) -> bool:
    if invite.max_uses and invite.uses >= invite.max_uses:
        return False
    if invite.expires_at is not None:
        expires = invite.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= utcnow():
            return False
    return True


async def access_live_invite(session: AsyncSession, code: str) -> Invite:
    invite = await repository.get(session, code) if code and len(code) <= 32 else None
    if invite is None or not is_live(invite):
        raise NotFound("Invite")
    return invite


async def do_accept_for_user(session: AsyncSession, user_id: int, code: str) -> Invite:
    """Joins the invite's server. A use is counted only when it adds a member."""
    invite = await access_live_invite(session, code)
    _, joined = await members_service.do_join(session, invite.server_id, user_id)
    if joined and not await repository.count_use(session, invite.code):
        raise NotFound("Invite")
    return invite
