"""The sandbox test keys read from: deterministic sample content, never live accounts.

Every test key, of every account, sees the same small fixed data set, built from constants
(no randomness, no clock), so examples and client tests can rely on exact values. A test
key's reads are answered from here and nothing else; live keys never see it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gossip.kit.ids import MAX_SNOWFLAKE


def _id(name: str) -> int:
    """A stable snowflake-sized number per sample name."""
    return int.from_bytes(hashlib.sha256(f"sandbox:{name}".encode()).digest()[:8]) % MAX_SNOWFLAKE


# (username, full name, category, followers, buzzes, verified, bio)
_PROFILES: tuple[tuple[str, str, str, int, int, bool, str], ...] = (
    ("mohan", "Mohan Singh", "personal", 12840, 312, True, "Photos from Darchula."),
    ("sita", "Sita Sharma", "business", 530, 41, False, "Handmade pashmina, worldwide."),
    ("gossip_bot", "Gossip Bot", "bot", 0, 0, True, "A sample bot account."),
    ("test_user", "Test User", "personal", 3, 1, False, "Nothing to see here."),
)

PROFILES: dict[str, dict[str, Any]] = {
    username: {
        "id": f"p_{_id(username)}",
        "username": username,
        "full_name": full_name,
        "category": category,
        "bio": bio,
        "avatar": None,
        "followers": followers,
        "buzzes": buzzes,
        "verified": verified,
        "created_at": "2026-01-01T00:00:00.000Z",
        "sandbox": True,
    }
    for username, full_name, category, followers, buzzes, verified, bio in _PROFILES
}


def profile(username: str) -> dict[str, Any] | None:
    return PROFILES.get(username.lower())
