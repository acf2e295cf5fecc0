"""Typed events, collected during a transaction and published only after it commits.

A service calls `emit(session, ...)`; the adapter that owns the transaction hands the
collected events to the bus after a successful commit, so a rolled-back change never
reaches anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "gossip.events"

# Internal events: acted on by the gateway, never dispatched to clients.
SESSION_REVOKED = "SESSION_REVOKED"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may receive an event; the gateway still checks permissions per connection."""

    server_id: int | None = None
    channel_id: int | None = None
    user_ids: tuple[int, ...] = ()
    # Several servers at once, for a user's presence reaching everyone they share one with.
    server_ids: tuple[int, ...] = ()
    # Server members receive it only with these permission bits (e.g. ban events need
    # BAN_MEMBERS, as listing bans does); the users named in user_ids receive it anyway.
    permission: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]
    audience: Audience = field(default_factory=Audience)
    # Whose action it was, for receivers that must tell them apart from the others (a
    # spec 002 client learns of a new DM only when someone else opened it). Not sent to
    # clients.
    actor_id: int | None = None


def emit(
    session: AsyncSession,
    type_: str,
    data: dict[str, Any],
    audience: Audience,
    *,
    actor_id: int | None = None,
) -> None:
    session.info.setdefault(_KEY, []).append(Event(type_, data, audience, actor_id))


def take(session: AsyncSession) -> list[Event]:
    return session.info.pop(_KEY, [])


def pending(session: AsyncSession) -> list[Event]:
    """What the transaction has emitted so far, left in place (the outbox reads it before
    the commit; `take` still hands it to the bus after)."""
    return session.info.get(_KEY, [])
