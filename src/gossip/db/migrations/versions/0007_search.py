"""message search (issue 4): the full-text index of messages; channels.message_count

The index is kept by the database itself, so no write path (send, edit, delete, bulk
delete, a channel or server deleted with its messages, a raw INSERT by a tool) can forget
it, and it changes in the very transaction that changes the message:

- SQLite: an FTS5 table with external content (`messages_fts`, rowid = messages.id; it
  stores only the index, the text stays in `messages`) and insert/update/delete triggers.
- PostgreSQL: a generated stored tsvector column `messages.search_vector` and a GIN index.

Both tokenise the same way: words (runs of letters and digits), lower-cased, no stemming,
no stop words, accents kept (FTS5's unicode61 with remove_diacritics 0; PostgreSQL's
`simple` configuration over the text with punctuation made spaces), so a query finds the
same messages on either engine.

`channels.message_count` is kept by triggers too: search answers how many messages it
searched through without counting a million rows per request.

Neither the virtual table, nor the generated column, nor the triggers are in the models
(tests/db/test_migrations.py says why it ignores exactly them). A later migration that
rebuilds `messages` on SQLite (Alembic's batch mode copies the table and drops the old
one) drops its triggers with it and must create them again: see SQLITE_TRIGGERS.

Revision ID: 0007_search
Revises: 0006_webhooks_voice_audit
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_search"
down_revision: str | None = "0006_webhooks_voice_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The external-content delete command needs the old text exactly as it was indexed, which
# the triggers pass from OLD. `AFTER UPDATE OF content`: pinning or editing embeds leaves
# the index alone.
SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
        UPDATE channels SET message_count = message_count + 1 WHERE id = new.channel_id;
    END
    """,
    """
    CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        UPDATE channels SET message_count = message_count - 1 WHERE id = old.channel_id;
    END
    """,
    """
    CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
    END
    """,
)

# Statement-level with transition tables: a bulk insert (COPY) or a cascade that deletes
# a whole channel's messages updates each channel row once, not once per message.
POSTGRES_COUNTERS = (
    """
    CREATE FUNCTION messages_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE channels SET message_count = channels.message_count + added.n
        FROM (SELECT channel_id, count(*) AS n FROM new_rows GROUP BY channel_id) AS added
        WHERE channels.id = added.channel_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION messages_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE channels SET message_count = channels.message_count - removed.n
        FROM (SELECT channel_id, count(*) AS n FROM old_rows GROUP BY channel_id) AS removed
        WHERE channels.id = removed.channel_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER messages_count_insert AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION messages_count_insert()
    """,
    """
    CREATE TRIGGER messages_count_delete AFTER DELETE ON messages
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION messages_count_delete()
    """,
)


# PostgreSQL's parser keeps hosts, e-mail addresses, URLs and decimals whole
# ("example.com" is one lexeme), where FTS5 splits them into words. Punctuation becomes a
# space first, so both engines index the same words and a query finds the same messages.
POSTGRES_WORDS = "regexp_replace(content, '[[:punct:][:space:]]+', ' ', 'g')"


def upgrade() -> None:
    op.add_column(
        "channels",
        sa.Column("message_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(
        "UPDATE channels SET message_count ="
        " (SELECT count(*) FROM messages WHERE messages.channel_id = channels.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        # Adding a stored generated column rewrites the table: existing messages are
        # indexed here.
        op.execute(
            "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS"
            f" (to_tsvector('simple'::regconfig, {POSTGRES_WORDS})) STORED"
        )
        # New entries wait in the index's pending list, which every search reads through
        # in full: 512 kB (64 pages) instead of the default 4 MB bounds that cost, at the
        # price of merging into the index more often as messages arrive.
        op.execute(
            "CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)"
            " WITH (gin_pending_list_limit = 512)"
        )
        for statement in POSTGRES_COUNTERS:
            op.execute(statement)
    else:
        op.execute(
            "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',"
            " content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
        )
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
        # Indexes every existing message from the content table.
        op.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER messages_count_delete ON messages")
        op.execute("DROP TRIGGER messages_count_insert ON messages")
        op.execute("DROP FUNCTION messages_count_delete()")
        op.execute("DROP FUNCTION messages_count_insert()")
        op.execute("DROP INDEX ix_messages_search_vector")
        op.execute("ALTER TABLE messages DROP COLUMN search_vector")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER messages_search_{name}")
        op.execute("DROP TABLE messages_fts")
    op.drop_column("channels", "message_count")
