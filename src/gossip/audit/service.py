"""The audit log: an entry for every moderation and configuration action.

The service that acts writes the entry with `record(...)`, in its own transaction: an
action that rolls back leaves no entry, and a committed one always has its entry. Action
names are Discord's audit log event names (a server is Discord's guild: GUILD_UPDATE), plus
two of Gossip's own for platform administrators (USER_DISABLE, USER_ENABLE).

Reasons: a route with a reason field passes it; otherwise Discord's `X-Audit-Log-Reason`
header (URL-encoded), which the `/api` adapter hands to the transaction with `note_reason`.
"""

from __future__ import annotations

import dataclasses
import enum
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import access_server
from gossip.audit import repository
from gossip.auth.subject import Actor
from gossip.db.models import AuditLogEntry
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.kit.permissions import Permission
from gossip.kit.timefmt import iso

ACTIONS = frozenset(
    {
        "GUILD_UPDATE",
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
        "CHANNEL_OVERWRITE_CREATE",
        "CHANNEL_OVERWRITE_UPDATE",
        "CHANNEL_OVERWRITE_DELETE",
        "MEMBER_KICK",
        "MEMBER_BAN_ADD",
        "MEMBER_BAN_REMOVE",
        "MEMBER_UPDATE",
        "MEMBER_ROLE_UPDATE",
        "ROLE_CREATE",
        "ROLE_UPDATE",
        "ROLE_DELETE",
        "INVITE_CREATE",
        "INVITE_DELETE",
        "WEBHOOK_CREATE",
        "WEBHOOK_UPDATE",
        "WEBHOOK_DELETE",
        "MESSAGE_DELETE",
        "MESSAGE_BULK_DELETE",
        "USER_DISABLE",
        "USER_ENABLE",
    }
)
MAX_REASON = 512
MAX_PAGE = 100
_REASON_KEY = "gossip.audit.reason"
# Permission bitfields go out as decimal strings, as everywhere on the wire.
_BITFIELDS = frozenset({"permissions", "allow", "deny"})
# Snowflakes exceed what JavaScript numbers hold exactly; IDs go out as strings.
_JS_SAFE = 2**53 - 1


def clean_reason(raw: str | None) -> str | None:
    """A reason as stored: trimmed, without control characters, at most 512 characters."""
    if raw is None:
        return None
    text = "".join(ch for ch in raw if not unicodedata.category(ch).startswith("C")).strip()
    return text[:MAX_REASON] or None


def note_reason(session: AsyncSession, header: str | None) -> None:
    """Keeps the request's `X-Audit-Log-Reason` (URL-encoded, as Discord takes it) for the
    entries this transaction records. A header that cannot be read is ignored, not refused:
    the reason is a courtesy and must never fail the action."""
    if header:
        session.info[_REASON_KEY] = clean_reason(unquote(header, errors="replace"))


def _wire(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {str(k): _wire(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_wire(v) for v in value]
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and (key in _BITFIELDS or abs(value) > _JS_SAFE):
        return str(value)
    return value


def given(changes: Any) -> dict[str, Any]:
    """The fields a change request (a dataclass) named: None and enum markers such as UNSET
    mean "not given" and are left out; nested dataclasses become dicts."""
    named: dict[str, Any] = {}
    for item in dataclasses.fields(changes):
        value = getattr(changes, item.name)
        if value is None or isinstance(value, enum.Enum):
            continue
        if isinstance(value, list | tuple):
            value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
        named[item.name] = value
    return named


def record(
    session: AsyncSession,
    action: str,
    actor_id: int | None,
    *,
    server_id: int | None = None,
    target_id: int | None = None,
    reason: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Adds an entry to the acting transaction. `actor_id` None: the platform admin key."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")  # a programming error
    repository.add(
        session,
        AuditLogEntry(
            id=ids.new_id(),
            server_id=server_id,
            actor_id=actor_id,
            action=action,
            target_id=target_id,
            reason=clean_reason(reason) or session.info.get(_REASON_KEY),
            options=_wire(options) if options else None,
        ),
    )


def entry(row: AuditLogEntry) -> dict[str, Any]:
    """Spec 004's shape, plus serverId (null for platform-wide entries)."""
    return {
        "id": str(row.id),
        "action": row.action,
        "targetId": None if row.target_id is None else str(row.target_id),
        "userId": None if row.actor_id is None else str(row.actor_id),
        "reason": row.reason,
        "createdAt": iso(ids.snowflake_time(row.id)),
        "options": row.options or {},
        "serverId": None if row.server_id is None else str(row.server_id),
    }


def check_filters(action: str | None, limit: int) -> None:
    if action is not None and action not in ACTIONS:
        raise ValidationFailed.field(
            "action", f"unknown action; one of {', '.join(sorted(ACTIONS))}"
        )
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.field("limit", f"must be 1-{MAX_PAGE}")


async def list_entries(
    session: AsyncSession,
    *,
    server_id: int | None = None,
    user_id: int | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Every entry matching the filters, newest first. Precondition: the caller is a
    platform administrator (the admin surface checked)."""
    check_filters(action, limit)
    rows = await repository.page(
        session, server_id=server_id, actor_id=user_id, action=action, before=before, limit=limit
    )
    return [entry(r) for r in rows]


async def list_for_server(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    *,
    user_id: int | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """One server's entries, newest first. Precondition: VIEW_AUDIT_LOG in the server."""
    access = (await access_server(session, actor, server_id)).require(Permission.VIEW_AUDIT_LOG)
    return await list_entries(
        session,
        server_id=access.server.id,
        user_id=user_id,
        action=action,
        before=before,
        limit=limit,
    )
