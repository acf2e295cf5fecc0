"""message search on PostgreSQL: the GIN index also holds each message's time slice

`ix_messages_search_vector` becomes a GIN index over `(search_vector, (id >> 32))`: the
words, and the message's snowflake time in steps of 1,024 ms. A search for common words
can then ask GIN for the matches of only the last stretch of time
(`(id >> 32) >= :slice`), and GIN skips through the words' long posting lists to it
instead of decoding them whole (search/repository.py, newest_postgres). Words alone still
use the same index (a multi-column GIN index serves a condition on any of its columns).

An integer in a GIN index needs the `btree_gin` extension, which ships with PostgreSQL
(contrib) and is trusted since PostgreSQL 13: the database's owner may create it.

SQLite is untouched: FTS5 already yields matches newest first.

Revision ID: 0009_search_slices
Revises: 0008_outgoing_webhooks
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_search_slices"
down_revision: str | None = "0008_outgoing_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in 0007_search: a bounded pending list, which every search reads through in full.
WITH = "WITH (gin_pending_list_limit = 512)"


def _replace(columns: str) -> None:
    # Built beside the old index and renamed, so the name (which tests and plans refer
    # to) stays and the old one serves until the new one exists.
    op.execute(
        f"CREATE INDEX ix_messages_search_vector_next ON messages USING gin ({columns}) {WITH}"
    )
    op.execute("DROP INDEX ix_messages_search_vector")
    op.execute("ALTER INDEX ix_messages_search_vector_next RENAME TO ix_messages_search_vector")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    _replace("search_vector, (id >> 32)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace("search_vector")
    # The extension stays: something else in the database may use it by now.
