"""SQL for users."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import cache
from gossip.db.models import Member, User
from gossip.db.sqlite_driver import Prepared


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_many(session: AsyncSession, user_ids: Sequence[int]) -> list[User]:
    if not user_ids:
        return []
    rows = await session.scalars(select(User).where(User.id.in_(user_ids)))
    return list(rows)


@dataclass(frozen=True, slots=True)
class UserBrief:
    """What a message shows of its author and of the users it mentions."""

    id: int
    username: str
    avatar: str | None
    bot: bool


_users = User.__table__
# Built once and run on the session's connection, without the ORM: every message send and
# page reads this, and building the expression and loading full ORM objects cost several
# times what SQLite spends on it. SQLAlchemy caches the compiled form.
_BRIEFS = select(_users.c.id, _users.c.username, _users.c.avatar, _users.c.bot).where(
    _users.c.id.in_(bindparam("ids", expanding=True))
)


_BRIEF_SQLITE = Prepared(
    select(_users.c.id, _users.c.username, _users.c.avatar, _users.c.bot).where(
        _users.c.id == bindparam("id")
    )
)


def brief_sqlite(conn: sqlite3.Connection, user_id: int) -> UserBrief | None:
    """One user's brief on a sqlite3 connection, from the thread that owns it (the group
    commit of sends, messages/group_commit.py)."""
    for r in _BRIEF_SQLITE.run(conn, {"id": user_id}):
        return UserBrief(r[0], r[1], r[2], bool(r[3]))
    return None


async def briefs(session: AsyncSession, user_ids: Sequence[int]) -> list[UserBrief]:
    if not user_ids:
        return []
    connection = await session.connection()
    rows = await connection.execute(_BRIEFS, {"ids": list(user_ids)})
    return [UserBrief(r[0], r[1], r[2], r[3]) for r in rows]


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.lower()))


async def username_taken(session: AsyncSession, username: str, *, except_id: int = 0) -> bool:
    found = await session.scalar(
        select(User.id).where(func.lower(User.username) == username.lower(), User.id != except_id)
    )
    return found is not None


async def email_taken(session: AsyncSession, email: str) -> bool:
    return (await session.scalar(select(User.id).where(User.email == email.lower()))) is not None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(
    session: AsyncSession, query: str, *, limit: int, offset: int
) -> tuple[list[User], int]:
    condition = func.lower(User.username).like(_escape_like(query.lower()) + "%", escape="\\")
    total = await session.scalar(select(func.count()).select_from(User).where(condition))
    rows = await session.scalars(
        select(User)
        .where(condition)
        .order_by(func.lower(User.username))
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def mutual_server_ids(session: AsyncSession, user_a: int, user_b: int) -> list[int]:
    mine = select(Member.server_id).where(Member.user_id == user_a)
    rows = await session.scalars(
        select(Member.server_id)
        .where(Member.user_id == user_b, Member.server_id.in_(mine))
        .order_by(Member.server_id)
    )
    return list(rows)


async def set_fields(session: AsyncSession, user_id: int, **fields: object) -> None:
    if not cache.ACTOR_FIELDS.isdisjoint(fields):
        # Cached access tokens carry these (auth/cache.py).
        cache.mark(session)
    await session.execute(update(User).where(User.id == user_id).values(**fields))
