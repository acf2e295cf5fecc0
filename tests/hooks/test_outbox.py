"""The outbox commits and rolls back with the change that caused it (SQLite, in process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from gossip.db.engine import connect
from gossip.db.migrate import upgrade
from gossip.db.models import User, WebhookDelivery
from gossip.events import Audience, emit
from gossip.hooks import service
from gossip.hooks.outbox import Outbox
from gossip.kit import ids


async def scenario(url: str) -> tuple[int, int, int]:
    ids.configure(7)
    db = connect(url)
    outbox = Outbox()
    db.before_commit.append(outbox.stage)
    db.after_commit.append(outbox.after_commit)
    try:
        async with db.write_session() as session:
            owner = User(id=ids.new_id(), username="hookowner", email="h@example.com")
            session.add(owner)
            await session.flush()
            who = service.Owner(owner.id, None, "hookowner", True)
            await service.do_create_endpoint(
                session, who, url="https://93.184.215.14/x", events=["*"], description=None
            )
            await session.commit()

        async def count() -> int:
            async with db.read_session() as session:
                query = select(func.count()).select_from(WebhookDelivery)
                return int((await session.execute(query)).scalar_one())

        mine = Audience(user_ids=(owner.id,))
        # Rolled back: the change and its delivery go together.
        async with db.write_session() as session:
            emit(session, "CHANNEL_CREATE", {"id": "1"}, mine)
            await outbox.stage(session)
            await session.rollback()
        after_rollback = await count()
        # Committed: one row for the one visible event, none for an invisible one.
        async with db.write_session() as session:
            emit(session, "CHANNEL_CREATE", {"id": "2"}, mine)
            emit(session, "CHANNEL_CREATE", {"id": "3"}, Audience(user_ids=(123,)))
            emit(session, "TYPING_START", {"id": "4"}, mine)  # not a webhook event
            await session.commit()
        after_commit = await count()
        async with db.read_session() as session:
            body = (await session.execute(select(WebhookDelivery.body))).scalar_one()
        return after_rollback, after_commit, len(body)
    finally:
        await db.dispose()


def test_rows_commit_and_roll_back_with_the_change(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
    upgrade(url)
    after_rollback, after_commit, body_length = asyncio.run(scenario(url))
    assert after_rollback == 0
    assert after_commit == 1
    assert body_length == len('{"event":"channel.created","data":{"id":"2"}}')
