"""Voice tokens: short-lived HS256 JWTs a media server verifies with the shared secret.

Gossip does not carry audio or video. A client that joins a voice channel gets a token,
the media server's endpoint and its ssrc; it presents the token to the media server, which
checks it with `GOSSIP_VOICE_SECRET` (docs/voice.md says exactly how) and admits the user to
that channel for that session.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt

from gossip.config import Settings

ALGORITHM = "HS256"
ISSUER = "gossip"
AUDIENCE = "gossip-voice"


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    secret: str
    endpoint: str | None
    ttl: int  # seconds


def voice_config(settings: Settings) -> VoiceConfig:
    return VoiceConfig(
        secret=settings.voice_secret or _generated_secret(str(settings.data_dir.resolve())),
        endpoint=settings.voice_endpoint,
        ttl=settings.voice_token_ttl,
    )


@lru_cache(maxsize=8)
def _generated_secret(data_dir: str) -> str:
    """Unset GOSSIP_VOICE_SECRET: one generated on first use and kept beside the data
    (mode 0600), for the operator to hand to the media server."""
    path = Path(data_dir) / "voice.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL makes two processes starting together agree on one secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def issue(
    config: VoiceConfig,
    *,
    user_id: int,
    channel_id: int,
    server_id: int,
    session_id: str,
    ssrc: int,
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "user": str(user_id),
        "channel": str(channel_id),
        "server": str(server_id),
        "session": session_id,
        "ssrc": ssrc,
        "iat": now,
        "exp": now + config.ttl,
    }
    return jwt.encode(claims, config.secret, algorithm=ALGORITHM)


def verify(token: str, secret: str) -> dict[str, Any]:
    """What a media server does (raises jwt.InvalidTokenError when it must refuse)."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "channel", "server", "session", "ssrc"]},
    )
    return claims
