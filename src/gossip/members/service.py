"""Rules for joining and leaving servers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Member
from gossip.events import Audience, emit
from gossip.kit.errors import Banned
from gossip.kit.timefmt import iso, utcnow
from gossip.members import repository
from gossip.users import repository as users


async def do_join(session: AsyncSession, server_id: int, user_id: int) -> tuple[Member, bool]:
    """Adds the user to the server unless banned; joining twice is a no-op.

    Returns the membership and whether it is new.
    """
    existing = await repository.get(session, server_id, user_id)
    if existing is not None:
        return existing, False
    if await repository.ban_of(session, server_id, user_id) is not None:
        raise Banned("You are banned from this server")
    member = Member(server_id=server_id, user_id=user_id, joined_at=utcnow(), pending=False)
    session.add(member)
    await session.flush()
    user = await users.get(session, user_id)
    emit(
        session,
        "MEMBER_ADD",
        {
            "serverId": str(server_id),
            "user": {
                "id": str(user_id),
                "username": user.username if user else None,
                "avatar": user.avatar if user else None,
                "bot": user.bot if user else False,
            },
            "roles": [],
            "joinedAt": iso(member.joined_at),
            "nickname": None,
        },
        Audience(server_id=server_id, user_ids=(user_id,)),
    )
    return member, True
