"""SQL for uploaded files."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import MediaFile, Message


async def get(session: AsyncSession, media_id: int) -> MediaFile | None:
    return await session.get(MediaFile, media_id)


async def add(session: AsyncSession, rows: Sequence[MediaFile]) -> None:
    session.add_all(rows)
    await session.flush()


async def remove(session: AsyncSession, media_id: int) -> None:
    await session.execute(delete(MediaFile).where(MediaFile.id == media_id))


async def message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.scalar(select(Message).where(Message.id == message_id))
