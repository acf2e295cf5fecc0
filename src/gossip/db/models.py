"""Tables. IDs are snowflakes (see kit/ids.py): creation times are read from them, not stored.

On SQLite an ID primary key is declared INTEGER so it becomes the rowid: rows are then
clustered by ID, which is time order, and the hot `messages (channel_id, id)` scans touch
neighbouring pages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
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
    # The developer API plan (issue 5), set by an administrator: free, pro or scale.
    plan: Mapped[str] = mapped_column(String(8), default="free", server_default="free")
    # Scale's daily request cap per key; None on free and pro (their caps are fixed).
    plan_daily_limit: Mapped[int | None] = mapped_column(BigInteger)


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
    """Server channels (types 0, 2, 4, 15), threads (11) and DMs (1, 3); DMs have no server."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    server_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[int] = mapped_column(default=0)
    name: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(1024))
    # A category, or for a thread its text channel (indexed: threads are listed by it).
    parent_id: Mapped[int | None] = mapped_column(Snowflake, index=True)
    position: Mapped[int] = mapped_column(default=0)
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)
    last_message_id: Mapped[int | None] = mapped_column(Snowflake)
    owner_id: Mapped[int | None] = mapped_column(Snowflake)
    # Voice channels: how many users may be connected at once; 0 means no limit.
    user_limit: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # "low:high" user IDs of a one-to-one DM: the unique index makes creating the same DM
    # twice a conflict instead of a race.
    dm_key: Mapped[str | None] = mapped_column(String(48), unique=True)
    # Kept by database triggers on `messages` (migration 0007_search), never by the code:
    # search reports how many messages it looked through without counting them.
    message_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


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
    """Searchable through a full-text index the database keeps (migration 0007_search):
    FTS5 table `messages_fts` on SQLite, generated column `search_vector` with a GIN index
    on PostgreSQL. Neither is declared here: see tests/db/test_migrations.py."""

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
    # The attachment objects as sent (media/service.py): reads need no join.
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Set when an incoming webhook sent it: the webhook, and the name and avatar this
    # execution chose (each may choose its own). author_id is then the reserved account
    # gossip.webhooks.service.WEBHOOK_AUTHOR_ID, so the foreign key holds.
    webhook_id: Mapped[int | None] = mapped_column(Snowflake)
    webhook_username: Mapped[str | None] = mapped_column(String(80))
    webhook_avatar: Mapped[str | None] = mapped_column(String(512))


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


# --- threads (issue 4) ---------------------------------------------------------------------


class Thread(Base):
    """What makes a `channels` row of type 11 a thread (Discord's thread metadata).

    The thread itself is that channel row (server_id, parent_id = its text channel,
    owner_id = who started it, name, last_message_id), so messages, reactions, access and
    the gateway treat it as a channel; see threads/service.py for the rules.
    """

    __tablename__ = "threads"

    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    # The message it was started from: one thread per message. The thread outlives the
    # message (NULL then), as in Discord.
    start_message_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("messages.id", ondelete="SET NULL"), unique=True
    )
    auto_archive_duration: Mapped[int] = mapped_column(default=1440)  # minutes
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # When `archived` last changed (the creation at first): Discord's archive_timestamp.
    archive_timestamp: Mapped[datetime] = mapped_column(UtcDateTime)
    # Last activity + auto_archive_duration. From this moment the thread counts as archived
    # without anyone having to write that down, so every process agrees without a sweeper.
    archive_deadline: Mapped[datetime] = mapped_column(UtcDateTime)


class ThreadMember(Base):
    __tablename__ = "thread_members"

    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    flags: Mapped[int] = mapped_column(default=0)


# --- incoming webhooks, voice signaling and the audit log (issue 4) ------------------------


class Webhook(Base):
    """An incoming webhook: whoever holds its token may post in its channel."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    server_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    creator_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(80))
    avatar: Mapped[str | None] = mapped_column(String(512))
    # Kept as issued: managers may read it again, as spec 004's list shows (docs/api.md).
    token: Mapped[str] = mapped_column(String(100))


class VoiceState(Base):
    """Who is connected to which voice channel. One row per user: a user is in one voice
    channel at most, and joining another moves them."""

    __tablename__ = "voice_states"
    __table_args__ = (
        # The ssrc tells streams apart inside one channel.
        Index("ix_voice_states_channel_id_ssrc", "channel_id", "ssrc", unique=True),
    )

    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE")
    )
    server_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    ssrc: Mapped[int] = mapped_column(BigInteger)  # unsigned 32-bit: beyond INTEGER
    session_id: Mapped[str] = mapped_column(String(32))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditLogEntry(Base):
    """One moderation or configuration action. No foreign keys: entries outlive the server,
    channel or role they name, for platform administrators to read."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_server_id_id", "server_id", "id"),
        Index("ix_audit_log_actor_id_id", "actor_id", "id"),
    )

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    server_id: Mapped[int | None] = mapped_column(Snowflake)  # None: platform-wide
    actor_id: Mapped[int | None] = mapped_column(Snowflake)  # None: the admin key
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(Snowflake)
    reason: Mapped[str | None] = mapped_column(String(512))
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- media (issue 4) -------------------------------------------------------------------------


class MediaFile(Base):
    """An uploaded file. Its bytes live in media storage under keys made from `id`; the
    client's name is kept only as metadata. `token` makes its URL unguessable (IDs are
    time-ordered, so they alone could be enumerated)."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    uploader_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Where it was shared: who can see the channel can see the file's details.
    channel_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        Snowflake, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # upload, attachment, avatar, banner, icon
    token: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    original_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(127))
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    has_thumbnail: Mapped[bool] = mapped_column(Boolean, default=False)


# --- developer API (issue 5) -----------------------------------------------------------------


class ApiKey(Base):
    """A developer API key. Only the SHA-256 digest of the secret is kept; `prefix` and
    `last4` let its owner recognise it afterwards."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(4))  # live or test
    name: Mapped[str | None] = mapped_column(String(80))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiKeyDay(Base):
    """Requests a key was admitted on one UTC day: the daily cap is counted here, with one
    atomic conditional upsert per request, so it holds across processes and engines."""

    __tablename__ = "api_key_days"

    key_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiUsage(Base):
    """Metered usage of a key per UTC day and price category. Cost in pico-USD (10^-12):
    bandwidth is 100 pico-USD a byte, so every price is a whole number."""

    __tablename__ = "api_usage"

    key_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_pico: Mapped[int] = mapped_column(BigInteger, default=0)


# --- outgoing webhooks and the event bus (issue 5) -----------------------------------------


class WebhookEndpoint(Base):
    """Where a developer wants events POSTed: a spec 001 webhook or a spec 000 listener.

    `secret` is kept as issued (docs/decisions.md): the server must sign with it.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The API key that registered it; no foreign key, a revoked key keeps its endpoints.
    key_id: Mapped[int | None] = mapped_column(Snowflake)
    kind: Mapped[str] = mapped_column(String(16))  # "webhook" (spec 001), "listener" (000)
    # Registered with a live key. Gossip's own events reach live endpoints only; a test
    # key's spec 000 publishes reach only test ones (test keys never touch live data).
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Unix ms of the first failure since the last success; None while healthy.
    failing_since: Mapped[int | None] = mapped_column(BigInteger)


class WebhookSubscription(Base):
    """One event type an endpoint wants ("*" for all it may receive): the indexed side of
    `WebhookEndpoint.events`, so finding the endpoints of an event is one lookup."""

    __tablename__ = "webhook_subscriptions"

    event_type: Mapped[str] = mapped_column(String(128), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    owner_id: Mapped[int] = mapped_column(Snowflake)


class WebhookDelivery(Base):
    """The outbox: one event for one endpoint. Written in the transaction of the change that
    caused it; `id` is the `webhook-id` every attempt carries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The worker's claim: due pending rows in order.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    endpoint_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(128))
    # The exact bytes POSTed (and signed), so every retry sends the same body.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # delivered, failed
    attempts: Mapped[int] = mapped_column(default=0)
    # Unix ms. A claimed row is leased by moving this into the future: a worker killed
    # mid-delivery leaves it due again once the lease runs out.
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_status: Mapped[int | None] = mapped_column()
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)


class WebhookAttempt(Base):
    """One POST of a delivery: what came back and how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(SnowflakePK, primary_key=True, autoincrement=False)
    delivery_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    status_code: Mapped[int | None] = mapped_column()
    latency_ms: Mapped[int] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(300))
