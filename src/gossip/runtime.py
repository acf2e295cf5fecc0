"""What one running app holds: settings, database, bus, limiter and credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gossip.auth.cache import TokenCache
from gossip.bus import Bus
from gossip.config import Settings, parse_rule
from gossip.db.engine import Database
from gossip.gateway.hub import Hub
from gossip.hooks.outbox import Outbox
from gossip.kit.ratelimit import RateLimiter, Rule
from gossip.kit.security import AccessTokens, PasswordHashing

if TYPE_CHECKING:
    from gossip.media.service import MediaStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    limiter: RateLimiter
    passwords: PasswordHashing
    tokens: AccessTokens
    hub: Hub
    media: MediaStore
    auth_cache: TokenCache
    # Outgoing webhooks: stages deliveries before each write commits (hooks/outbox.py).
    outbox: Outbox = field(default_factory=Outbox)

    def rule(self, bucket: str) -> Rule:
        limit, window = parse_rule(getattr(self.settings, f"rate_limit_{bucket}"))
        return Rule(limit=limit, window=window)
