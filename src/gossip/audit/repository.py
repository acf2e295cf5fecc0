"""SQL for the audit log. Pages walk `(server_id, id)` or `(actor_id, id)` newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import AuditLogEntry


def add(session: AsyncSession, entry: AuditLogEntry) -> None:
    # Flushed with the action's own statements when the transaction commits.
    session.add(entry)


async def page(
    session: AsyncSession,
    *,
    server_id: int | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int,
) -> list[AuditLogEntry]:
    query = select(AuditLogEntry)
    if server_id is not None:
        query = query.where(AuditLogEntry.server_id == server_id)
    if actor_id is not None:
        query = query.where(AuditLogEntry.actor_id == actor_id)
    if action is not None:
        query = query.where(AuditLogEntry.action == action)
    if before is not None:
        query = query.where(AuditLogEntry.id < before)
    rows = await session.scalars(query.order_by(AuditLogEntry.id.desc()).limit(limit))
    return list(rows)
