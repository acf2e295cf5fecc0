"""Platform administration: admin accounts, who may administer, statistics, and
disabling accounts."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.admin import repository
from gossip.audit import service as audit
from gossip.auth import service as auth_service
from gossip.auth.subject import Actor
from gossip.db.models import User
from gossip.events import SESSION_REVOKED, Audience, emit
from gossip.kit.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from gossip.kit.ids import snowflake_at, snowflake_time
from gossip.kit.timefmt import iso
from gossip.users import repository as users
from gossip.webhooks.service import WEBHOOK_AUTHOR_ID


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


# --- who may administer --------------------------------------------------------------


def check_admin_key(given: str, expected: str | None) -> None:
    """The `X-Admin-Key` header against GOSSIP_ADMIN_KEY, in constant time. Unset, no key
    is ever accepted."""
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Invalid admin key")


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only platform administrators can do this")


# --- statistics ----------------------------------------------------------------------


def human_size(size: int) -> str:
    """Bytes as spec 004 writes them ("10.5 GB"): binary multiples, one decimal."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


async def stats(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """Spec 004's figures. Days, weeks (from Monday) and months are UTC calendar ones;
    "active" means having sent a message or logged in (docs/admin.md)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since_today = snowflake_at(today)
    since_week = snowflake_at(today - timedelta(days=today.weekday()))
    since_month = snowflake_at(today.replace(day=1))
    used, files = await repository.storage(session)
    return {
        "users": {
            "total": await repository.count_people(session),
            "activeToday": await repository.count_active_people(session, since_today),
            "newThisMonth": await repository.count_people(session, since_month),
        },
        "servers": {
            "total": await repository.count_servers(session),
            "activeToday": await repository.count_active_servers(session, since_today),
        },
        "messages": {
            "today": await repository.count_messages(session, since_today),
            "thisWeek": await repository.count_messages(session, since_week),
        },
        "storage": {"totalUsed": human_size(used), "filesTotal": files, "totalBytes": used},
    }


# --- accounts ------------------------------------------------------------------------


def account(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "email": user.email,
        "bot": user.bot,
        "isAdmin": user.is_admin,
        "disabled": user.disabled,
        "createdAt": iso(snowflake_time(user.id)),
    }


async def do_set_disabled(
    session: AsyncSession, admin_id: int | None, user_id: int | None, disabled: bool
) -> dict[str, Any]:
    """Disables or enables an account. Precondition: the caller is an administrator
    (`admin_id`, or None for the admin key). A disabled account is refused everywhere at
    once (ACCOUNT_DISABLED; its gateway sockets close); enabling restores its logins.
    Nobody disables their own account. Audited (USER_DISABLE / USER_ENABLE) when it
    changes anything."""
    user = await users.get(session, user_id) if user_id else None
    if user is None or user.id == WEBHOOK_AUTHOR_ID:
        raise NotFound("User")
    if disabled and user.id == admin_id:
        raise ValidationFailed.field("disabled", "You cannot disable your own account")
    if user.disabled == disabled:
        return account(user)
    await users.set_fields(session, user.id, disabled=disabled)
    user.disabled = disabled
    if disabled:
        # Requests are refused from now on (every one reads the account); sockets already
        # open are closed here. Logins are kept, so enabling restores them, as a suspension.
        for login_id in await repository.live_session_ids(session, user.id):
            emit(
                session,
                SESSION_REVOKED,
                {"authSessionId": str(login_id)},
                Audience(user_ids=(user.id,)),
            )
    audit.record(
        session, "USER_DISABLE" if disabled else "USER_ENABLE", admin_id, target_id=user.id
    )
    return account(user)
