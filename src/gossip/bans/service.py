"""Rules for bans: who may ban whom, and what a ban takes away."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import access_server
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.bans import repository, views
from gossip.db.models import Ban
from gossip.events import Audience, emit
from gossip.kit.errors import NotFound, ValidationFailed
from gossip.kit.ids import snowflake_at
from gossip.kit.permissions import Permission
from gossip.kit.timefmt import utcnow
from gossip.members import repository as members
from gossip.members import service as members_service
from gossip.servers import repository as servers
from gossip.users import repository as users

MAX_REASON = 512
MAX_DELETE_DAYS = 7
MAX_PAGE = 1000


def check_reason(raw: str | None) -> str | None:
    if raw is None:
        return None
    reason = raw.strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed.field("reason", f"must be at most {MAX_REASON} characters")
    return reason or None


def check_delete_days(days: int) -> int:
    if not 0 <= days <= MAX_DELETE_DAYS:
        raise ValidationFailed.field("deleteMessageDays", f"must be 0-{MAX_DELETE_DAYS}")
    return days


def _moderators(server_id: int) -> Audience:
    # Bans are listed only to those who may ban; their events reach only them too.
    return Audience(server_id=server_id, permission=int(Permission.BAN_MEMBERS))


def _event_data(data: dict[str, Any], server_id: int) -> dict[str, Any]:
    return {**data, "serverId": str(server_id)}


async def do_ban(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    user_id: int | None,
    *,
    reason: str | None = None,
    delete_message_days: int = 0,
) -> tuple[dict[str, Any], bool]:
    """Bans a user, member or not (a pre-emptive ban), and removes their membership.

    Precondition: BAN_MEMBERS; the user exists; nobody bans themselves, and a member
    must be below the actor (so never the owner). Banning again updates the reason.
    With `delete_message_days`, the user's messages in the server's channels from that
    many days back are deleted. Emits BAN_ADD (for a new ban), MEMBER_REMOVE and
    MESSAGE_DELETE_BULK per channel. Returns the ban and whether it is new.
    """
    access = await access_server(session, actor, server_id)
    access.require(Permission.BAN_MEMBERS)
    server_id = access.server.id
    user = await users.get(session, user_id) if user_id else None
    if user is None:
        raise NotFound("User")
    if user.id == actor.user_id:
        raise ValidationFailed("You cannot ban yourself")
    if await members.get(session, server_id, user.id) is not None:
        await members_service.check_outranks_member(session, access, user.id)
    reason = check_reason(reason)
    days = check_delete_days(delete_message_days)

    # Taken before writing the ban, so a concurrent join either finishes first (and its
    # membership is removed below) or sees the ban.
    await servers.lock(session, server_id)
    ban = await repository.get(session, server_id, user.id)
    created = ban is None
    if ban is None:
        ban = Ban(
            server_id=server_id,
            user_id=user.id,
            reason=reason,
            moderator_id=actor.user_id,
            created_at=utcnow(),
        )
        await repository.add(session, ban)
    else:
        await repository.update_reason(session, server_id, user.id, reason, actor.user_id)
    data = views.ban(ban, user)
    if created:
        emit(session, "BAN_ADD", _event_data(data, server_id), _moderators(server_id))
    await members_service.do_remove_member(session, server_id, user)
    audit.record(
        session,
        "MEMBER_BAN_ADD",
        actor.user_id,
        server_id=server_id,
        target_id=user.id,
        reason=reason,
        options={"deleteMessageDays": days, "new": created},
    )
    if days:
        await _delete_recent_messages(session, server_id, user.id, days, actor.user_id)
    return data, created


async def _delete_recent_messages(
    session: AsyncSession, server_id: int, author_id: int, days: int, moderator_id: int
) -> None:
    # Snowflakes are time-ordered: "the last N days" is an ID range, no timestamp column.
    since = snowflake_at(utcnow() - timedelta(days=days))
    found = await repository.recent_messages(session, server_id, author_id, since)
    if not found:
        return
    await repository.delete_messages(
        session,
        [message_id for _, message_id in found],
        sorted({channel_id for channel_id, _ in found}),
        since,
    )
    for channel_id, count in Counter(channel_id for channel_id, _ in found).items():
        audit.record(
            session,
            "MESSAGE_BULK_DELETE",
            moderator_id,
            server_id=server_id,
            target_id=channel_id,
            options={"count": count, "userId": author_id},
        )
    for channel_id, rows in groupby(found, key=lambda row: row[0]):
        emit(
            session,
            "MESSAGE_DELETE_BULK",
            {
                "ids": [str(message_id) for _, message_id in rows],
                "channelId": str(channel_id),
                "serverId": str(server_id),
            },
            Audience(server_id=server_id, channel_id=channel_id),
        )


async def list_bans(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    *,
    after: int = 0,
    limit: int = MAX_PAGE,
) -> list[dict[str, Any]]:
    """Precondition: BAN_MEMBERS. Bans in user-ID order after `after`."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.BAN_MEMBERS)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.field("limit", f"must be 1-{MAX_PAGE}")
    rows = await repository.page(session, access.server.id, after=after, limit=limit)
    return [views.ban(ban, user) for ban, user in rows]


async def access_ban(
    session: AsyncSession, actor: Actor, server_id: int | None, user_id: int | None
) -> dict[str, Any]:
    """Precondition: BAN_MEMBERS. NotFound when the user is not banned."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.BAN_MEMBERS)
    found = await repository.with_user(session, access.server.id, user_id) if user_id else None
    if found is None:
        raise NotFound("Ban")
    return views.ban(*found)


async def do_unban(
    session: AsyncSession, actor: Actor, server_id: int | None, user_id: int | None
) -> None:
    """Precondition: BAN_MEMBERS and an existing ban. Emits BAN_REMOVE."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.BAN_MEMBERS)
    server_id = access.server.id
    found = await repository.with_user(session, server_id, user_id) if user_id else None
    if found is None:
        raise NotFound("Ban")
    ban, user = found
    data = views.ban(ban, user)
    await repository.remove(session, server_id, user.id)
    audit.record(
        session, "MEMBER_BAN_REMOVE", actor.user_id, server_id=server_id, target_id=user.id
    )
    emit(session, "BAN_REMOVE", _event_data(data, server_id), _moderators(server_id))
