"""threads (issue 4): thread metadata, thread members, channels.parent_id index

Revision ID: 0005_threads
Revises: 0004_media
Create Date: 2026-11-23 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_threads"
down_revision: str | None = "0004_media"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "threads",
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("start_message_id", sa.BigInteger(), nullable=True),
        sa.Column("auto_archive_duration", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("archive_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archive_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_threads_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["start_message_id"],
            ["messages.id"],
            name=op.f("fk_threads_start_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_threads")),
        sa.UniqueConstraint("start_message_id", name=op.f("uq_threads_start_message_id")),
    )
    op.create_table(
        "thread_members",
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_thread_members_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_thread_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", "user_id", name=op.f("pk_thread_members")),
    )
    with op.batch_alter_table("thread_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thread_members_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channels_parent_id"), ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channels_parent_id"))
    with op.batch_alter_table("thread_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_members_user_id"))
    op.drop_table("thread_members")
    op.drop_table("threads")
