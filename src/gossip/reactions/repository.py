"""SQL for reactions. The primary key (message_id, emoji, user_id) serves every query here:
the summaries of a page of messages, one emoji's users, adding and removing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Reaction, User
from gossip.kit.timefmt import utcnow


@dataclass(frozen=True, slots=True)
class ReactionSummary:
    emoji: str
    count: int
    me: bool


_reactions = Reaction.__table__
# Built once and run on the session's connection, without the ORM: every page of messages
# and every search reads it, and building this expression (an IN over the page's IDs, a
# CASE, three functions) cost more than the statement itself. SQLAlchemy caches the
# compiled form.
_SUMMARIES = (
    select(
        _reactions.c.message_id,
        _reactions.c.emoji,
        func.count(),
        func.max(case((_reactions.c.user_id == bindparam("viewer"), 1), else_=0)),
    )
    .where(_reactions.c.message_id.in_(bindparam("ids", expanding=True)))
    .group_by(_reactions.c.message_id, _reactions.c.emoji)
    .order_by(_reactions.c.message_id, func.min(_reactions.c.created_at), _reactions.c.emoji)
)


async def summaries(
    session: AsyncSession, message_ids: Sequence[int], viewer_id: int
) -> dict[int, list[ReactionSummary]]:
    """Per message, each emoji with its count and whether the viewer is among them, in the
    order the emoji were first used: one grouped query for a whole page."""
    if not message_ids:
        return {}
    connection = await session.connection()
    rows = await connection.execute(_SUMMARIES, {"ids": list(message_ids), "viewer": viewer_id})
    found: dict[int, list[ReactionSummary]] = {}
    for message_id, emoji, count, me in rows:
        found.setdefault(message_id, []).append(ReactionSummary(emoji, int(count), bool(me)))
    return found


async def emojis_on(session: AsyncSession, message_id: int) -> list[str]:
    rows = await session.scalars(
        select(Reaction.emoji).where(Reaction.message_id == message_id).distinct()
    )
    return list(rows)


def _insert(session: AsyncSession) -> Any:
    # INSERT ... ON CONFLICT DO NOTHING is spelled the same on both engines, but each
    # dialect has its own construct for it.
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


async def add(session: AsyncSession, message_id: int, emoji: str, user_id: int) -> bool:
    """Adds the reaction; False if it was already there (so adding is idempotent, even for
    two identical requests racing)."""
    insert = _insert(session)
    result = await session.execute(
        insert(Reaction)
        .values(message_id=message_id, emoji=emoji, user_id=user_id, created_at=utcnow())
        .on_conflict_do_nothing()
        .returning(Reaction.user_id)
    )
    return result.first() is not None


async def remove(session: AsyncSession, message_id: int, emoji: str, user_id: int) -> bool:
    result = await session.execute(
        delete(Reaction)
        .where(
            Reaction.message_id == message_id,
            Reaction.emoji == emoji,
            Reaction.user_id == user_id,
        )
        .returning(Reaction.user_id)
    )
    return result.first() is not None


async def users(
    session: AsyncSession, message_id: int, emoji: str, *, after: int | None, limit: int
) -> list[User]:
    """Who reacted with the emoji, by user ID (the key's order), after `after`."""
    query = (
        select(User)
        .join(Reaction, Reaction.user_id == User.id)
        .where(Reaction.message_id == message_id, Reaction.emoji == emoji)
    )
    if after is not None:
        query = query.where(Reaction.user_id > after)
    rows = await session.scalars(query.order_by(Reaction.user_id).limit(limit))
    return list(rows)
