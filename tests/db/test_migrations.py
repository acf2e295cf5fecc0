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
        and not _search_index(d)
    ]


EXPRESSION_INDEXES = {"ix_users_username_lower"}

# The full-text index of messages (migration 0007_search) exists on one engine only and
# has no model: SQLite's FTS5 virtual table (reflected as the table and its shadow tables
# messages_fts_data, _idx, _docsize, _config) and PostgreSQL's generated tsvector column
# with its GIN index. SQLAlchemy can declare neither an FTS5 table nor a column that only
# one dialect has; test_search_index_exists below checks them by name instead.
SEARCH_TABLE = "messages_fts"
SEARCH_COLUMN = ("messages", "search_vector")
SEARCH_INDEX = "ix_messages_search_vector"


def _search_index(diff: Any) -> bool:
    if isinstance(diff, list):  # column modifications come as a list of changes
        return False
    kind = diff[0]
    if kind == "remove_table":
        name = diff[1].name
        return bool(name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_"))
    if kind == "remove_column":
        return bool((diff[2], diff[3].name) == SEARCH_COLUMN)
    if kind == "remove_index":
        return bool(diff[1].name == SEARCH_INDEX)
    return False


def test_upgrade_matches_models(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        with postgres_database() as url:
            upgrade(url)
            assert _differences(url) == []
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/gossip.db"
        upgrade(url)
        assert _differences(url) == []


def test_search_index_exists(backend: str, tmp_path: Path) -> None:
    """What _search_index ignores is there, with the triggers that keep it in step."""

    async def names(url: str, sql: str) -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return {row[0] for row in await conn.exec_driver_sql(sql)}
        finally:
            await engine.dispose()

    if backend == "postgres":
        with postgres_database() as url:
            upgrade(url)
            columns = asyncio.run(
                names(
                    url,
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'messages' AND is_generated = 'ALWAYS'",
                )
            )
            indexes = asyncio.run(
                names(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'messages'")
            )
            triggers = asyncio.run(
                names(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            )
            assert "search_vector" in columns
            assert SEARCH_INDEX in indexes
            # 0009_search_slices: the words and the time slice in one GIN index, which
            # search's slices_sql relies on.
            definition = asyncio.run(
                names(
                    url,
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_search_vector'",
                )
            )
            assert [d.split(" USING ")[1] for d in definition] == [
                "gin (search_vector, ((id >> 32))) WITH (gin_pending_list_limit='512')"
            ]
            assert {"messages_count_insert", "messages_count_delete"} <= triggers
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/gossip.db"
        upgrade(url)
        tables = asyncio.run(names(url, "SELECT name FROM sqlite_master WHERE type = 'table'"))
        triggers = asyncio.run(names(url, "SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        assert SEARCH_TABLE in tables
        assert {
            "messages_search_insert",
            "messages_search_delete",
            "messages_search_update",
        } <= triggers
