"""SQL for incoming webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import Webhook


async def get(session: AsyncSession, webhook_id: int) -> Webhook | None:
    return await session.get(Webhook, webhook_id)


async def in_channel(session: AsyncSession, channel_id: int) -> list[Webhook]:
    rows = await session.scalars(
        select(Webhook).where(Webhook.channel_id == channel_id).order_by(Webhook.id)
    )
    return list(rows)


async def count_in_channel(session: AsyncSession, channel_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Webhook).where(Webhook.channel_id == channel_id)
    )
    return int(count or 0)


async def add(session: AsyncSession, webhook: Webhook) -> None:
    session.add(webhook)
    await session.flush()


async def update_fields(session: AsyncSession, webhook_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Webhook).where(Webhook.id == webhook_id).values(**values))


async def remove(session: AsyncSession, webhook_id: int) -> None:
    await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
