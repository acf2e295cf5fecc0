"""incoming webhooks, voice states, audit log (issue 4); channels.user_limit, messages.webhook_*

Also inserts the reserved account that authors every webhook message (messages.author_id
references users), the way Discord shows webhook messages under a bot identity.

Revision ID: 0006_webhooks_voice_audit
Revises: 0005_threads
Create Date: 2026-11-23 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_webhooks_voice_audit"
down_revision: str | None = "0005_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# gossip.webhooks.service.WEBHOOK_AUTHOR_ID; a migration keeps its own copy of what it writes.
WEBHOOK_AUTHOR_ID = 1 << 22  # 4194304: the epoch's first millisecond, worker 0, sequence 0
# '#' is refused in every username a person can choose, so no account can already hold it.
WEBHOOK_AUTHOR_NAME = "Webhook#0000"

SNOWFLAKE_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable, or with a constant default): SQLite does them in place,
    # without rebuilding the hot messages table.
    op.add_column(
        "channels",
        sa.Column("user_limit", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("messages", sa.Column("webhook_id", sa.BigInteger(), nullable=True))
    op.add_column("messages", sa.Column("webhook_username", sa.String(length=80), nullable=True))
    op.add_column("messages", sa.Column("webhook_avatar", sa.String(length=512), nullable=True))

    op.create_table(
        "webhooks",
        sa.Column("id", SNOWFLAKE_PK, autoincrement=False, nullable=False),
        sa.Column("server_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("avatar", sa.String(length=512), nullable=True),
        sa.Column("token", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_webhooks_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["users.id"],
            name=op.f("fk_webhooks_creator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["servers.id"],
            name=op.f("fk_webhooks_server_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_channel_id"), "webhooks", ["channel_id"], unique=False)
    op.create_index(op.f("ix_webhooks_server_id"), "webhooks", ["server_id"], unique=False)

    op.create_table(
        "voice_states",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("server_id", sa.BigInteger(), nullable=False),
        sa.Column("ssrc", sa.BigInteger(), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_voice_states_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["servers.id"],
            name=op.f("fk_voice_states_server_id_servers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_voice_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_voice_states")),
    )
    op.create_index(
        "ix_voice_states_channel_id_ssrc", "voice_states", ["channel_id", "ssrc"], unique=True
    )
    op.create_index(op.f("ix_voice_states_server_id"), "voice_states", ["server_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", SNOWFLAKE_PK, autoincrement=False, nullable=False),
        sa.Column("server_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_server_id_id", "audit_log", ["server_id", "id"], unique=False)
    op.create_index("ix_audit_log_actor_id_id", "audit_log", ["actor_id", "id"], unique=False)

    users = sa.table(
        "users",
        sa.column("id", sa.BigInteger()),
        sa.column("username", sa.String()),
        sa.column("status", sa.String()),
        sa.column("flags", sa.Integer()),
        sa.column("bot", sa.Boolean()),
        sa.column("is_admin", sa.Boolean()),
        sa.column("disabled", sa.Boolean()),
    )
    # No email and no password: nobody can log in as it, through any surface.
    op.bulk_insert(
        users,
        [
            {
                "id": WEBHOOK_AUTHOR_ID,
                "username": WEBHOOK_AUTHOR_NAME,
                "status": "invisible",
                "flags": 0,
                "bot": True,
                "is_admin": False,
                "disabled": True,
            }
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM messages WHERE author_id = :id").bindparams(id=WEBHOOK_AUTHOR_ID)
    )
    op.execute(sa.text("DELETE FROM users WHERE id = :id").bindparams(id=WEBHOOK_AUTHOR_ID))
    op.drop_index("ix_audit_log_actor_id_id", table_name="audit_log")
    op.drop_index("ix_audit_log_server_id_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_voice_states_server_id"), table_name="voice_states")
    op.drop_index("ix_voice_states_channel_id_ssrc", table_name="voice_states")
    op.drop_table("voice_states")
    op.drop_index(op.f("ix_webhooks_server_id"), table_name="webhooks")
    op.drop_index(op.f("ix_webhooks_channel_id"), table_name="webhooks")
    op.drop_table("webhooks")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("webhook_avatar")
        batch_op.drop_column("webhook_username")
        batch_op.drop_column("webhook_id")
    with op.batch_alter_table("channels") as batch_op:
        batch_op.drop_column("user_limit")
