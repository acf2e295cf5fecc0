"""Tables. IDs are snowflakes (see kit/ids.py): creation times are read from them, not stored.

On SQLite an ID primary key is declared INTEGER so it becomes the rowid: rows are then
clustered by ID, which is time order, and the hot `messages (channel_id, id)` scans touch
neighbouring pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Names every constraint, so Alembic migrations stay portable between SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SnowflakePK = BigInteger().with_variant(Integer(), "sqlite")
Snowflake = BigInteger
UtcDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {int: Integer, datetime: UtcDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_username_lower", text("lower(username)"), unique=True),)

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(32))
    # Lower-cased before storing; NULL for accounts of the legacy DM surface.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    avatar: Mapped[str | None] = mapped_column(String(512))
    banner: Mapped[str | None] = mapped_column(String(512))
    bio: Mapped[str | None] = mapped_column(String(500))
    # The status the user chose; what others see also depends on being connected.
    status: Mapped[str] = mapped_column(String(16), default="online")
    flags: Mapped[int] = mapped_column(default=0)
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuthSession(Base):
    """One login: the family of refresh tokens that descend from it."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    refresh_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Server(Base):
    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100))
    icon: Mapped[str | None] = mapped_column(String(512))
    banner: Mapped[str | None] = mapped_column(String(512))
    description: Mapped[str | None] = mapped_column(String(1024))
    region: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("users.id"), index=True)
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    boost_level: Mapped[int] = mapped_column(default=0)


class Role(Base):
    """A server role. The @everyone role has the server's own ID, as in Discord."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    server_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[int] = mapped_column(BigInteger, default=0)
    color: Mapped[int] = mapped_column(default=0)
    hoist: Mapped[bool] = mapped_column(Boolean, default=False)
    mentionable: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(default=0)


class Member(Base):
    __tablename__ = "members"

    server_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    nickname: Mapped[str | None] = mapped_column(String(32))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    premium_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pending: Mapped[bool] = mapped_column(Boolean, default=False)


class MemberRole(Base):
    __tablename__ = "member_roles"
    __table_args__ = (
        ForeignKeyConstraint(
            ["server_id", "user_id"],
            ["members.server_id", "members.user_id"],
            ondelete="CASCADE",
        ),
    )

    server_id: Mapped[int] = mapped_column(Snowflake, primary_key=True)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True)
    role_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Channel(Base):
    """Server channels (types 0, 2, 4, 15) and DMs (1, 3); DMs have no server."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    server_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[int] = mapped_column(default=0)
    name: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(1024))
    parent_id: Mapped[int | None] = mapped_column(Snowflake)
    position: Mapped[int] = mapped_column(default=0)
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)
    last_message_id: Mapped[int | None] = mapped_column(Snowflake)
    owner_id: Mapped[int | None] = mapped_column(Snowflake)
    # "low:high" user IDs of a one-to-one DM: the unique index makes creating the same DM
    # twice a conflict instead of a race.
    dm_key: Mapped[str | None] = mapped_column(String(48), unique=True)


class PermissionOverwrite(Base):
    __tablename__ = "permission_overwrites"

    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    target_id: Mapped[int] = mapped_column(Snowflake, primary_key=True)
    type: Mapped[int] = mapped_column()  # 0 role, 1 member
    allow: Mapped[int] = mapped_column(BigInteger, default=0)
    deny: Mapped[int] = mapped_column(BigInteger, default=0)


class DMRecipient(Base):
    __tablename__ = "dm_recipients"

    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_channel_id_id", "channel_id", "id"),)

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE")
    )
    author_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("users.id"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[int] = mapped_column(default=0)
    tts: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    mention_everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    # Lists of ID strings and embed objects; NULL stands for empty to keep rows small.
    mentions: Mapped[list[str] | None] = mapped_column(JSON)
    mention_roles: Mapped[list[str] | None] = mapped_column(JSON)
    embeds: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Reaction(Base):
    __tablename__ = "reactions"

    message_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    emoji: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Keeps "who reacted" in the order they did.
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Ban(Base):
    __tablename__ = "bans"

    server_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str | None] = mapped_column(String(512))
    moderator_id: Mapped[int | None] = mapped_column(Snowflake)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Invite(Base):
    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    server_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE")
    )
    inviter_id: Mapped[int] = mapped_column(Snowflake, ForeignKey("users.id", ondelete="CASCADE"))
    max_uses: Mapped[int] = mapped_column(default=0)  # 0 = unlimited
    uses: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
