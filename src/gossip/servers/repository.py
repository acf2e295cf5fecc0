"""SQL for servers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Channel, Member, MemberRole, Role, Server
from gossip.threads import THREAD_TYPES


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


async def role_permissions_of(session: AsyncSession, user_id: int) -> list[tuple[int, int, int]]:
    """(server id, role id, permissions) of @everyone in each of the user's servers and of
    every role they hold, in one query."""
    servers = select(Member.server_id).where(Member.user_id == user_id)
    held = select(MemberRole.role_id).where(MemberRole.user_id == user_id)
    rows = await session.execute(
        select(Role.server_id, Role.id, Role.permissions).where(
            Role.id.in_(servers) | Role.id.in_(held)
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def lock(session: AsyncSession, server_id: int) -> None:
    """Serialises changes to one server's roles and membership on PostgreSQL with a row lock
    on the server, held to the end of the transaction: two role creations cannot take the
    same position, and a join cannot slip past a ban being written. FOR NO KEY UPDATE, so
    inserting rows that merely reference the server (messages' channels, members) does not
    wait. SQLite needs nothing: its writers are serialised already."""
    await session.execute(
        select(Server.id).where(Server.id == server_id).with_for_update(key_share=True)
    )


async def get(session: AsyncSession, server_id: int) -> Server | None:
    return await session.get(Server, server_id)


async def member_count(session: AsyncSession, server_id: int) -> int:
    count = await session.scalar(select(func.count()).where(Member.server_id == server_id))
    return int(count or 0)


async def channel_count(session: AsyncSession, server_id: int) -> int:
    # Threads are not channels of the server's list (as in Discord).
    count = await session.scalar(
        select(func.count()).where(
            Channel.server_id == server_id, Channel.type.not_in(THREAD_TYPES)
        )
    )
    return int(count or 0)


async def server_ids_of(session: AsyncSession, user_id: int) -> list[int]:
    return list(await session.scalars(select(Member.server_id).where(Member.user_id == user_id)))


async def count_servers_of(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(select(func.count()).where(Member.user_id == user_id))
    return int(count or 0)


async def member_ids(session: AsyncSession, server_id: int) -> list[int]:
    return list(await session.scalars(select(Member.user_id).where(Member.server_id == server_id)))


async def update_fields(session: AsyncSession, server_id: int, values: dict[str, Any]) -> None:
    # An ORM-enabled UPDATE also refreshes the Server already loaded in this session.
    await session.execute(update(Server).where(Server.id == server_id).values(**values))


async def delete_server(session: AsyncSession, server_id: int) -> None:
    """Deletes the server; roles, members, channels, messages, bans and invites go with it
    through the foreign keys' ON DELETE CASCADE."""
    await session.execute(delete(Server).where(Server.id == server_id))
