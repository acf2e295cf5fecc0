"""SQL for server membership and the roles members hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Member, MemberRole, User


async def get(session: AsyncSession, server_id: int, user_id: int) -> Member | None:
    return await session.get(Member, (server_id, user_id))


async def with_user(
    session: AsyncSession, server_id: int, user_id: int
) -> tuple[Member, User] | None:
    row = (
        await session.execute(
            select(Member, User)
            .join(User, User.id == Member.user_id)
            .where(Member.server_id == server_id, Member.user_id == user_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def page(
    session: AsyncSession, server_id: int, *, after: int, limit: int, prefix: str | None
) -> list[tuple[Member, User]]:
    """Members in user-ID order after `after`; with `prefix`, only those whose username or
    nickname starts with it (case-insensitively)."""
    query = (
        select(Member, User)
        .join(User, User.id == Member.user_id)
        .where(Member.server_id == server_id, Member.user_id > after)
    )
    if prefix:
        pattern = _escape_like(prefix.lower()) + "%"
        query = query.where(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(Member.nickname).like(pattern, escape="\\"),
            )
        )
    rows = await session.execute(query.order_by(Member.user_id).limit(limit))
    return [(r[0], r[1]) for r in rows]


async def role_ids_by_user(
    session: AsyncSession, server_id: int, user_ids: Sequence[int]
) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return found
    rows = await session.execute(
        select(MemberRole.user_id, MemberRole.role_id).where(
            MemberRole.server_id == server_id, MemberRole.user_id.in_(user_ids)
        )
    )
    for user_id, role_id in rows:
        found[user_id].append(role_id)
    return found


async def add(session: AsyncSession, member: Member) -> None:
    session.add(member)
    await session.flush()


async def remove(session: AsyncSession, server_id: int, user_id: int) -> bool:
    """Ends a membership and the roles held with it; False if there was none."""
    await session.execute(
        delete(MemberRole).where(MemberRole.server_id == server_id, MemberRole.user_id == user_id)
    )
    result = await session.execute(
        delete(Member).where(Member.server_id == server_id, Member.user_id == user_id)
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]


async def update_fields(
    session: AsyncSession, server_id: int, user_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(Member)
        .where(Member.server_id == server_id, Member.user_id == user_id)
        .values(**values)
    )


async def has_role(session: AsyncSession, server_id: int, user_id: int, role_id: int) -> bool:
    found = await session.scalar(
        select(MemberRole.role_id).where(
            MemberRole.server_id == server_id,
            MemberRole.user_id == user_id,
            MemberRole.role_id == role_id,
        )
    )
    return found is not None


async def add_role(session: AsyncSession, server_id: int, user_id: int, role_id: int) -> None:
    session.add(MemberRole(server_id=server_id, user_id=user_id, role_id=role_id))
    await session.flush()


async def remove_role(session: AsyncSession, server_id: int, user_id: int, role_id: int) -> bool:
    result = await session.execute(
        delete(MemberRole).where(
            MemberRole.server_id == server_id,
            MemberRole.user_id == user_id,
            MemberRole.role_id == role_id,
        )
    )
    return (result.rowcount or 0) > 0  # type: ignore[attr-defined]
