"""Verified access tokens and API keys, remembered for a few seconds so a request need not
read its login session and account (or its key and the key's owner).

Correctness first: a revoked login or key, a disabled account, a renamed user or a changed
plan must be refused or seen at once, on every process. So the cache is never trusted on
time alone. Every write that changes what authentication reads (a login revoked, an
account's username, admin flag, bot flag or disabled flag, an API key revoked, an
account's plan; see `mark`) flags its session, and after the commit:

- in this process, a SQLAlchemy `after_commit` hook bumps a process-wide generation, so
  every entry filled before it is dead before the commit returns;
- across processes (with Redis), the committing request INCRs a shared epoch before its
  2xx is sent, and every cache hit first reads that epoch (one Redis round trip, cheaper
  than the database's read transaction) and ignores entries filled under another one.
  Without Redis the epoch is a file in the data directory (`auth-epoch`: a byte appended
  per change, read with one stat()), so processes sharing a data directory, as those of
  one SQLite database do, and the CLI run beside them, are told the same way.

An entry remembers the generation and epoch read *before* the database was, so a change
committed while the entry was being filled also kills it. The TTL only bounds what the
flags cannot see: another program writing the database directly without bumping the
epoch (`gossip create-admin`; `gossip set-plan` bumps it), and processes that share a
PostgreSQL database but neither Redis nor a data directory.

Tokens and keys share the flag and the epoch: a change to either forgets both kinds, which
costs one database read per credential afterwards and keeps one Redis GET per hit.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

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


T = TypeVar("T")
Stamp = tuple[int, bytes | None]


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    value: T
    expires_at: float
    generation: int
    epoch: bytes | None


class _Shelf(Generic[T]):
    """Entries of one kind, valid only under the stamp they were filled under."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self.entries: dict[str, _Entry[T]] = {}

    def get(self, name: str, stamp: Stamp | None) -> T | None:
        entry = self.entries.get(name)
        if entry is None or stamp is None:
            return None
        if (
            entry.generation != stamp[0]
            or entry.epoch != stamp[1]
            or entry.expires_at <= time.monotonic()
        ):
            self.entries.pop(name, None)
            return None
        return entry.value

    def put(self, name: str, value: T, stamp: Stamp, lifetime: float) -> None:
        if lifetime <= 0:
            return
        if len(self.entries) >= self._max:
            # Oldest first: dicts keep insertion order.
            self.entries.pop(next(iter(self.entries)))
        self.entries[name] = _Entry(value, time.monotonic() + lifetime, stamp[0], stamp[1])


# The file epoch: one byte appended per change (O_APPEND writes are atomic, so concurrent
# bumps from several processes each count), read with one stat(): the epoch is the file's
# inode and size. Past 1 MiB the file is replaced by an empty one (a new inode), so it
# stays small; entries stamped before then are long expired.
_FILE_EPOCH_MAX = 1 << 20


def _file_epoch(path: Path) -> bytes:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return b"0"
    return f"{found.st_ino}:{found.st_size}".encode()


def _bump_file_epoch(path: Path) -> None:
    with open(path, "ab") as epoch:
        epoch.write(b".")
        size = epoch.tell()
    if size >= _FILE_EPOCH_MAX:
        fresh = path.with_name(f"{path.name}.{os.getpid()}")
        fresh.write_bytes(b".")
        os.replace(fresh, path)


class TokenCache:
    def __init__(
        self,
        *,
        ttl: float = 10.0,
        max_entries: int = 20_000,
        redis_url: str | None = None,
        redis_prefix: str = "gossip:",
        epoch_file: Path | None = None,
    ) -> None:
        self._ttl = ttl
        self._tokens: _Shelf[Actor] = _Shelf(max_entries)
        # API keys by the SHA-256 digest of their secret (developer/service.py's
        # KeyContext; typed loosely so authentication does not import the developer
        # platform).
        self._keys: _Shelf[Any] = _Shelf(max_entries)
        self._redis: Any = None
        self._key = f"{redis_prefix}auth-epoch"
        # Without Redis, the epoch is a file in the data directory, which every process
        # of one SQLite database (and the CLI next to it) shares: see `_file_epoch`.
        self._file = None if redis_url else epoch_file
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)

    async def stamp(self) -> Stamp | None:
        """The generation and epoch to read before authenticating from the database, or
        None when the shared epoch cannot be read (then nothing may be cached)."""
        generation = _generation
        if self._redis is None:
            if self._file is None:
                return generation, None
            try:
                return generation, _file_epoch(self._file)
            except OSError:
                log.warning("auth epoch file unreadable; not caching", exc_info=True)
                return None
        try:
            epoch: bytes | None = await self._redis.get(self._key)
        except Exception:
            log.warning("auth epoch unreadable; not caching", exc_info=True)
            return None
        return generation, epoch or b"0"

    async def get(self, token: str) -> tuple[Actor | None, Stamp | None]:
        """The cached actor for `token` if still valid, and the stamp to store a fresh one
        under otherwise."""
        stamp = await self.stamp()
        return self._tokens.get(token, stamp), stamp

    def put(self, token: str, actor: Actor, stamp: Stamp, token_expires_at: int) -> None:
        # Never beyond the token's own expiry (a wall-clock time in the JWT).
        self._tokens.put(token, actor, stamp, min(self._ttl, token_expires_at - time.time()))

    async def get_key(self, secret_digest: str) -> tuple[Any, Stamp | None]:
        """The cached context of the API key with this digest if still valid (None
        otherwise), and the stamp to store a fresh one under."""
        stamp = await self.stamp()
        return self._keys.get(secret_digest, stamp), stamp

    def put_key(self, secret_digest: str, context: Any, stamp: Stamp) -> None:
        self._keys.put(secret_digest, context, stamp, self._ttl)

    async def committed(self, session: AsyncSession) -> None:
        """After a commit, before the response: tells the other processes if this
        transaction changed what authentication reads (this process already knows)."""
        if not session.info.pop(_FLAG, False):
            return
        self._tokens.entries.clear()
        self._keys.entries.clear()
        if self._redis is not None:
            try:
                await self._redis.incr(self._key)
            except Exception:
                # The other processes' entries die with their TTL at the latest.
                log.error("could not publish an auth change to redis", exc_info=True)
        elif self._file is not None:
            try:
                _bump_file_epoch(self._file)
            except OSError:
                log.error("could not publish an auth change to %s", self._file, exc_info=True)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
