"""The adapter owns the transaction: commit, then publish; a rollback publishes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from gossip.app import build_runtime
from gossip.config import Settings
from gossip.db.migrate import upgrade
from gossip.db.models import Server
from gossip.events import Audience, Event, emit
from gossip.kit import ids
from gossip.surfaces.chirp.deps import _write_session


def _run(tmp_path: Path, body: Any) -> tuple[list[Event], int]:
    settings = Settings(data_dir=tmp_path, secret_key="x" * 32)
    upgrade(settings.resolved_database_url)

    async def main() -> tuple[list[Event], int]:
        runtime = build_runtime(settings)
        seen: list[Event] = []

        async def handler(event: Event) -> None:
            seen.append(event)

        runtime.bus.subscribe(handler)
        app = SimpleNamespace(state=SimpleNamespace(runtime=runtime))
        request = SimpleNamespace(app=app, headers={})
        writer = _write_session(request)  # type: ignore[arg-type]
        session = await anext(writer)
        await body(session, writer)
        await runtime.bus.drain()
        async with runtime.db.read_session() as reader:
            servers = len((await reader.scalars(select(Server.id))).all())
        await runtime.db.dispose()
        return seen, servers

    return asyncio.run(main())


async def _change(session: Any) -> None:
    from gossip.auth.service import do_register

    user = await do_register(session, username="txn_user", email="t@example.com", password_hash="x")
    session.add(Server(id=ids.new_id(), name="s", owner_id=user.id, features=[], boost_level=0))
    emit(session, "SERVER_CREATE", {"id": "1"}, Audience(user_ids=(user.id,)))


class TestWriter:
    def test_commit_then_publish(self, tmp_path: Path) -> None:
        async def body(session: Any, writer: Any) -> None:
            await _change(session)
            with pytest.raises(StopAsyncIteration):
                await anext(writer)

        events, servers = _run(tmp_path, body)
        assert [e.type for e in events] == ["SERVER_CREATE"]
        assert servers == 1

    def test_failure_rolls_back_and_publishes_nothing(self, tmp_path: Path) -> None:
        async def body(session: Any, writer: Any) -> None:
            await _change(session)
            with pytest.raises(RuntimeError):
                await writer.athrow(RuntimeError("the route failed after the change"))

        events, servers = _run(tmp_path, body)
        assert events == []
        assert servers == 0
