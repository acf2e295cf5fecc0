"""Migrations: one head, and applying them yields exactly what the models describe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from gossip.db.migrate import alembic_config, upgrade
from gossip.db.models import Base
from tests.live import postgres_database


def test_one_head(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config(f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert len(script.get_heads()) == 1, f"several migration heads: {script.get_heads()}"


def _differences(url: str) -> list[Any]:
    async def compare() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()

    diffs = asyncio.run(compare())
    # Expression indexes cannot be reflected by every dialect; they are checked by name.
    return [
        d
        for d in diffs
        if not (d[0] in ("add_index", "remove_index") and d[1].name in EXPRESSION_INDEXES)
    ]


EXPRESSION_INDEXES = {"ix_users_username_lower"}


def test_upgrade_matches_models(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        with postgres_database() as url:
            upgrade(url)
            assert _differences(url) == []
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/gossip.db"
        upgrade(url)
        assert _differences(url) == []
