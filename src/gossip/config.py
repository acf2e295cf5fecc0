"""Settings, read once from `GOSSIP_*` environment variables.

Every knob an operator may turn lives here, so that `docs/operations.md` can list them from
one place and nothing else in the code reads the environment.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gossip.gateway.protocol import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOSSIP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("./data")
    # Unset means a SQLite file in the data directory.
    database_url: str | None = None
    # Unset means the in-process event bus and in-memory rate limits (one process only).
    redis_url: str | None = None
    # Namespaces every Redis key, so several deployments (or test runs) can share a server.
    redis_prefix: str = "gossip:"
    # Unset means generated on first start and kept in the data directory (mode 0600).
    secret_key: str | None = None
    # Snowflake worker number (0-1023); unset means derived from the process id.
    worker_id: int | None = Field(default=None, ge=0, le=1023)

    access_token_ttl: int = Field(default=900, ge=30, description="seconds")
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=60, description="seconds")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Media (docs/storage.md). A request carrying files may be this large, all its files
    # together; the smaller max_body_bytes still caps every other body.
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Larger images are refused unread (Pillow's decompression-bomb guard).
    max_image_pixels: int = Field(default=64_000_000, ge=1)
    # Prefix of the media URLs handed out ("https://chat.example.com", a CDN in front of
    # Gossip); empty means paths on this host ("/media/…").
    media_base_url: str = ""
    # An S3-compatible bucket instead of the data directory: how several processes share
    # files. Unset endpoint means AWS itself; unset keys mean boto3's usual lookup.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    rate_limits: bool = True
    # On SQLite, plain message sends skip FastAPI and are committed in batches
    # (surfaces/chirp/send_path.py, messages/group_commit.py); off: every send takes the
    # route. Answers are the same either way.
    send_group_commit: bool = True
    # Spec 004's table; each is "requests/seconds".
    rate_limit_general: str = "2000/60"
    rate_limit_auth: str = "25/900"
    rate_limit_admin: str = "10/900"
    rate_limit_auth_status: str = "500/60"
    rate_limit_password_reset: str = "3/3600"
    rate_limit_email_verification: str = "3/900"
    # Executions of one incoming webhook (docs/api.md, Webhooks), whoever sends them.
    rate_limit_webhook: str = "30/60"

    # Platform administration (docs/admin.md): `X-Admin-Key` must equal this; unset means
    # the header is never accepted, only administrator accounts.
    admin_key: str | None = Field(default=None, min_length=16)

    # Voice signaling (docs/voice.md): where clients send their media, and the secret the
    # media server verifies join tokens with (unset: generated into the data directory).
    voice_endpoint: str | None = None
    voice_secret: str | None = Field(default=None, min_length=32)  # HS256 wants 32 bytes
    voice_token_ttl: int = Field(default=60, ge=10, le=3600, description="seconds")

    # Spec 002's POST /new, per IP: creating accounts and logging in with an ID and name.
    rate_limit_legacy_login: str = "25/900"

    # Spec 002's DM chat (docs/legacy.md). Off unless asked for: its login needs only an
    # account ID and a username, no secret.
    legacy_dm: bool = False
    legacy_token_ttl: int = Field(default=365 * 24 * 3600, ge=60, description="seconds")

    # The gateway (docs/gateway.md).
    gateway_heartbeat_interval_ms: int = Field(default=41_250, ge=100)
    gateway_auth_timeout: float = Field(default=10.0, gt=0)
    gateway_max_frame_bytes: int = Field(default=16_384, ge=512)
    gateway_frame_rate: str = "120/60"
    gateway_replay_buffer: int = Field(default=1_000, ge=10)
    gateway_max_pending: int = Field(default=500, ge=5)
    gateway_resume_window: float = Field(default=120.0, gt=0)
    gateway_fanout_pace_ms: float = Field(default=25.0, ge=0)
    presence_offline_grace: float = Field(default=5.0, ge=0)

    # Outgoing webhooks and spec 000 listeners (docs/webhooks.md).
    # Run the delivery worker inside `gossip serve` (off: run `gossip worker` instead).
    webhook_worker: bool = True
    # Lets endpoints resolve to loopback, private or link-local addresses, and use plain
    # http: for development and tests only.
    webhook_allow_private: bool = False
    # Seconds to wait before each retry, after the first attempt; past the last, the
    # delivery is given up.
    webhook_retry_schedule: str = "5,30,120,600,1800,3600,10800,21600,43200,86400,86400"
    # An endpoint failing for this long with no success in between is disabled.
    webhook_disable_after: float = Field(default=5 * 24 * 3600, gt=0, description="seconds")
    webhook_timeout: float = Field(default=5.0, gt=0, description="seconds")
    # Concurrent POSTs per worker process.
    webhook_concurrency: int = Field(default=64, ge=1, le=1024)
    # Kept-alive connections (so concurrent POSTs) per origin (scheme, host, port); the
    # rest of a worker's POSTs to that origin wait for one of them.
    webhook_connections_per_origin: int = Field(default=16, ge=1, le=1024)
    # A claimed delivery not recorded within this long is due again (a killed worker).
    webhook_lease: float = Field(default=60.0, gt=0, description="seconds")
    # How often a worker looks for due deliveries when nothing in its process woke it.
    webhook_poll_interval: float = Field(default=0.5, gt=0, description="seconds")

    # Argon2id cost; lowered only by the test suite and benchmarks to save CPU.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gossip.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The JWT signing secret: given, or generated once and kept beside the data."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL makes two processes starting together agree on one secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @cached_property
    def resolved_worker_id(self) -> int:
        return self.worker_id if self.worker_id is not None else os.getpid() % 1024


def gateway_limits(settings: Settings) -> Limits:
    frames, window = parse_rule(settings.gateway_frame_rate)
    return Limits(
        heartbeat_interval_ms=settings.gateway_heartbeat_interval_ms,
        auth_timeout_s=settings.gateway_auth_timeout,
        max_frame_bytes=settings.gateway_max_frame_bytes,
        frames_per_window=frames,
        frame_window_s=window,
        replay_buffer=settings.gateway_replay_buffer,
        # A backlog larger than the buffer could never be resumed.
        max_pending=min(settings.gateway_max_pending, settings.gateway_replay_buffer - 1),
        resume_window_s=settings.gateway_resume_window,
        offline_grace_s=settings.presence_offline_grace,
        fanout_pace_s=settings.gateway_fanout_pace_ms / 1000,
    )


def retry_schedule(settings: Settings) -> tuple[float, ...]:
    """GOSSIP_WEBHOOK_RETRY_SCHEDULE: comma-separated seconds."""
    return tuple(float(part) for part in settings.webhook_retry_schedule.split(",") if part.strip())


def parse_rule(text: str) -> tuple[int, float]:
    """Parse "limit/seconds" as written in the GOSSIP_RATE_LIMIT_* variables."""
    limit, _, window = text.partition("/")
    return int(limit), float(window)
