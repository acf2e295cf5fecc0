"""Gateway message types, close codes and limits. docs/gateway.md describes each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# Sent by clients.
AUTHENTICATE = "AUTHENTICATE"
RESUME = "RESUME"
HEARTBEAT = "HEARTBEAT"
TYPING_START = "TYPING_START"
PRESENCE_UPDATE = "PRESENCE_UPDATE"
CLIENT_TYPES = frozenset({AUTHENTICATE, RESUME, HEARTBEAT, TYPING_START, PRESENCE_UPDATE})

# Sent by the server outside the numbered dispatch stream.
HELLO = "HELLO"
HEARTBEAT_ACK = "HEARTBEAT_ACK"
RESUMED = "RESUMED"
INVALID_SESSION = "INVALID_SESSION"
READY = "READY"


class Close(IntEnum):
    """WebSocket close codes. Resumable ones keep the session for RESUME."""

    UNKNOWN_ERROR = 4000
    UNKNOWN_TYPE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    AUTH_TIMEOUT = 4010
    SLOW_CONSUMER = 4013
    FRAME_TOO_LARGE = 1009


RESUMABLE = frozenset(
    {Close.UNKNOWN_ERROR, Close.RATE_LIMITED, Close.SESSION_TIMED_OUT, Close.SLOW_CONSUMER}
)


@dataclass(frozen=True, slots=True)
class Limits:
    heartbeat_interval_ms: int = 41_250
    auth_timeout_s: float = 10.0
    max_frame_bytes: int = 16_384
    frames_per_window: int = 120
    frame_window_s: float = 60.0
    replay_buffer: int = 1_000
    max_pending: int = 500
    resume_window_s: float = 120.0
    offline_grace_s: float = 5.0
    typing_interval_s: float = 3.0
    # The longest a dispatch waits to share a write with later ones (hub.py, pacing).
    fanout_pace_s: float = 0.025
