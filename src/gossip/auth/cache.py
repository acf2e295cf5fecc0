"""Verified access tokens, remembered for a few seconds so a request need not read its
login session and account.

Correctness first: a revoked login, a disabled account or a renamed user must be refused
or seen at once, on every process. So the cache is never trusted on time alone. Every
write that changes what `authenticate` reads (a login revoked, an account's username,
admin flag, bot flag or disabled flag; see `mark`) flags its session, and after the
commit:

- in this process, a SQLAlchemy `after_commit` hook bumps a process-wide generation, so
  every entry filled before it is dead before the commit returns;
- across processes (with Redis), the committing request INCRs a shared epoch before its
  2xx is sent, and every cache hit first reads that epoch (one Redis round trip, cheaper
  than the database's read transaction) and ignores entries filled under another one.

An entry remembers the generation and epoch read *before* the database was, so a change
committed while the entry was being filled also kills it. The TTL only bounds what the
flags cannot see: another program writing the database directly (`gossip create-admin`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gossip.auth.subject import Actor

log = logging.getLogger("gossip.auth.cache")

_FLAG = "gossip.auth_changed"
# User columns an Actor is built from (or that refuse it).
ACTOR_FIELDS = frozenset({"username", "is_admin", "bot", "disabled"})

_generation = 0


def mark(session: AsyncSession | Session) -> None:
    """Called by the repositories in the same transaction as a change `authenticate` would
    see: once it commits, every cached token is forgotten."""
    session.info[_FLAG] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    global _generation
    if session.info.get(_FLAG):
        _generation += 1


@dataclass(frozen=True, slots=True)
class _Entry:
    actor: Actor
    expires_at: float
    generation: int
    epoch: bytes | None


class TokenCache:
    def __init__(
        self,
        *,
        ttl: float = 10.0,
        max_entries: int = 20_000,
        redis_url: str | None = None,
        redis_prefix: str = "gossip:",
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, _Entry] = {}
        self._redis: Any = None
        self._key = f"{redis_prefix}auth-epoch"
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)

    async def stamp(self) -> tuple[int, bytes | None] | None:
        """The generation and epoch to read before authenticating from the database, or
        None when the shared epoch cannot be read (then nothing may be cached)."""
        generation = _generation
        if self._redis is None:
            return generation, None
        try:
            epoch: bytes | None = await self._redis.get(self._key)
        except Exception:
            log.warning("auth epoch unreadable; not caching", exc_info=True)
            return None
        return generation, epoch or b"0"

    async def get(self, token: str) -> tuple[Actor | None, tuple[int, bytes | None] | None]:
        """The cached actor for `token` if still valid, and the stamp to store a fresh one
        under otherwise."""
        stamp = await self.stamp()
        entry = self._entries.get(token)
        if entry is None or stamp is None:
            return None, stamp
        if (
            entry.generation != stamp[0]
            or entry.epoch != stamp[1]
            or entry.expires_at <= time.monotonic()
        ):
            self._entries.pop(token, None)
            return None, stamp
        return entry.actor, stamp

    def put(
        self, token: str, actor: Actor, stamp: tuple[int, bytes | None], token_expires_at: int
    ) -> None:
        # Never beyond the token's own expiry (a wall-clock time in the JWT).
        lifetime = min(self._ttl, token_expires_at - time.time())
        if lifetime <= 0:
            return
        if len(self._entries) >= self._max:
            # Oldest first: dicts keep insertion order.
            self._entries.pop(next(iter(self._entries)))
        self._entries[token] = _Entry(actor, time.monotonic() + lifetime, stamp[0], stamp[1])

    async def committed(self, session: AsyncSession) -> None:
        """After a commit, before the response: tells the other processes if this
        transaction changed what authentication reads (this process already knows)."""
        if not session.info.pop(_FLAG, False):
            return
        self._entries.clear()
        if self._redis is not None:
            try:
                await self._redis.incr(self._key)
            except Exception:
                # The other processes' entries die with their TTL at the latest.
                log.error("could not publish an auth change to redis", exc_info=True)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
