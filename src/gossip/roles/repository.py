"""SQL for roles. Positions of a server's roles other than @everyone are kept dense
(1..N, no two alike) so that comparing two positions is the whole hierarchy rule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import MemberRole, Role


async def list_for_server(session: AsyncSession, server_id: int) -> list[Role]:
    rows = await session.scalars(
        select(Role).where(Role.server_id == server_id).order_by(Role.position, Role.id)
    )
    return list(rows)


async def get_in_server(session: AsyncSession, server_id: int, role_id: int) -> Role | None:
    return await session.scalar(select(Role).where(Role.id == role_id, Role.server_id == server_id))


async def count(session: AsyncSession, server_id: int) -> int:
    found = await session.scalar(select(func.count()).where(Role.server_id == server_id))
    return int(found or 0)


async def add(session: AsyncSession, role: Role) -> None:
    session.add(role)
    await session.flush()


async def shift_up(session: AsyncSession, server_id: int) -> None:
    """Moves every role but @everyone one position up, freeing position 1."""
    await session.execute(
        update(Role)
        .where(Role.server_id == server_id, Role.id != server_id)
        .values(position=Role.position + 1)
    )


async def shift_down_above(session: AsyncSession, server_id: int, position: int) -> None:
    """Closes the gap a deleted role at `position` left."""
    await session.execute(
        update(Role)
        .where(Role.server_id == server_id, Role.id != server_id, Role.position > position)
        .values(position=Role.position - 1)
    )


async def update_fields(session: AsyncSession, role_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Role).where(Role.id == role_id).values(**values))


async def delete_role(session: AsyncSession, role_id: int) -> None:
    """Deletes the role and takes it from every member who held it."""
    await session.execute(delete(MemberRole).where(MemberRole.role_id == role_id))
    await session.execute(delete(Role).where(Role.id == role_id))
