"""The developer platform's rules: keys, who a key acts for, plans, metering, usage.

A key acts for its owner only: the key context carries the owner's user id and nothing
else, and every /v1 service call is scoped to it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import ApiKey, User
from gossip.developer import pricing, repository
from gossip.developer.pricing import Category, Plan
from gossip.kit import ids
from gossip.kit.errors import AccountDisabled, NotFound, Unauthorized, ValidationFailed
from gossip.kit.timefmt import iso

MODES = ("live", "test")
# gsk_live_ / gsk_test_ and 32 URL-safe characters (24 random bytes).
SECRET_PATTERN = re.compile(r"^gsk_(live|test)_[A-Za-z0-9_-]{32}$")
# last_used_at is written at most this often per key (and process): a write per request
# would cost more than the minute of precision is worth.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class KeyContext:
    """Who a /v1 request acts for: the key, its owner's account, its mode and plan."""

    key_id: int
    user_id: int
    mode: str  # "live" or "test"
    plan: str  # "free", "pro" or "scale"
    daily_limit: int
    last_used_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.mode == "live"

    def has(self, feature: str) -> bool:
        return pricing.has_feature(self.plan, feature)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def next_reset(now: datetime) -> datetime:
    """The next UTC midnight, when every daily cap starts again."""
    day = today(now)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": f"key_{key.id}",
        "name": key.name,
        "mode": key.mode,
        "prefix": key.prefix,
        "last4": key.last4,
        "createdAt": iso(ids.snowflake_time(key.id)),
        "lastUsedAt": iso(key.last_used_at) if key.last_used_at else None,
        "revokedAt": iso(key.revoked_at) if key.revoked_at else None,
    }


def parse_key_id(value: str) -> int:
    raw = value.removeprefix("key_")
    parsed = ids.parse_id(raw)
    if parsed is None:
        raise NotFound("API key")
    return parsed


# --- keys ------------------------------------------------------------------------------


async def do_create_key(
    session: AsyncSession, user_id: int, mode: str, name: str | None
) -> tuple[ApiKey, str]:
    """A new key and its secret: the only time the secret exists outside its holder."""
    if mode not in MODES:
        raise ValidationFailed.field("mode", "must be live or test")
    secret = f"gsk_{mode}_{secrets.token_urlsafe(24)}"
    key = ApiKey(
        id=ids.new_id(),
        user_id=user_id,
        mode=mode,
        name=name,
        secret_hash=digest(secret),
        prefix=secret[:13],
        last4=secret[-4:],
    )
    await repository.add_key(session, key)
    return key, secret


async def list_keys(session: AsyncSession, user_id: int) -> list[ApiKey]:
    return list(await repository.keys_of(session, user_id))


async def do_revoke_key(session: AsyncSession, user_id: int, key_id: int, now: datetime) -> ApiKey:
    key = await repository.key_of(session, user_id, key_id)
    if key is None:
        raise NotFound("API key")  # another account's key does not exist for you
    if key.revoked_at is None:
        await repository.revoke(session, key_id, now)
        await session.refresh(key)
    return key


async def authenticate(session: AsyncSession, secret: str) -> KeyContext:
    """The context of an unrevoked key, or 401, read from the database. The /v1 surface
    keeps what this returns in the key cache (auth/cache.py), which forgets it when a
    revocation, a plan change or a disabled owner commits, in every process (with Redis),
    so a revoked key is still refused at once."""
    if not SECRET_PATTERN.match(secret):
        raise Unauthorized("Invalid API key")
    row = await repository.live_key(session, digest(secret))
    if row is None:
        raise Unauthorized("Invalid API key")
    key_id, user_id, mode, last_used_at, plan, custom_limit, disabled = row
    if last_used_at is not None and last_used_at.tzinfo is None:
        last_used_at = last_used_at.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    if disabled:
        raise AccountDisabled()
    return KeyContext(
        key_id=key_id,
        user_id=user_id,
        mode=mode,
        plan=plan,
        daily_limit=pricing.daily_limit(plan, custom_limit),
        last_used_at=last_used_at,
    )


# --- metering --------------------------------------------------------------------------


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= TOUCH_EVERY


def charge(key: KeyContext, category: Category, response_bytes: int, status: int) -> int:
    """What a response costs in pico-USD. Test keys never spend."""
    if not key.live:
        return 0
    return pricing.cost_pico(category, response_bytes, succeeded=200 <= status < 300)


async def usage_report(
    session: AsyncSession, key: KeyContext, before: date | None, days: int
) -> list[dict[str, Any]]:
    """Daily requests, bytes and cost by category, newest day first, up to `days` days
    before `before`, for the account's keys of the caller's mode (a test key sees the
    sandbox's usage, which costs nothing)."""
    chosen = await repository.usage_days(session, key.user_id, key.mode, before, days)
    rows = await repository.usage(session, key.user_id, key.mode, chosen)
    report: dict[date, dict[str, Any]] = {}
    totals: dict[date, int] = {}
    for day, category, requests, nbytes, cost in rows:
        entry = report.setdefault(
            day, {"date": day.isoformat(), "requests": 0, "bytes": 0, "categories": {}}
        )
        entry["requests"] += int(requests)
        entry["bytes"] += int(nbytes)
        totals[day] = totals.get(day, 0) + int(cost)
        entry["categories"][category] = {
            "requests": int(requests),
            "bytes": int(nbytes),
            "cost_usd": pricing.usd(int(cost)),
        }
    for day, entry in report.items():
        entry["cost_usd"] = pricing.usd(totals[day])
    return list(report.values())


def usage_csv(days: list[dict[str, Any]]) -> str:
    """One line per day and category; commas never occur in the values."""
    lines = ["date,category,requests,bytes,cost_usd"]
    for day in days:
        for category, figures in sorted(day["categories"].items()):
            lines.append(
                f"{day['date']},{category},{figures['requests']},{figures['bytes']},"
                f"{figures['cost_usd']}"
            )
    return "\n".join(lines) + "\n"


# --- plans -----------------------------------------------------------------------------


def check_plan(plan: str, daily_limit: int | None) -> tuple[str, int | None]:
    if plan not in {p.value for p in Plan}:
        raise ValidationFailed.field("plan", "must be free, pro or scale")
    if plan == Plan.SCALE:
        if daily_limit is None:
            raise ValidationFailed.field("dailyLimit", "is required for the scale plan")
        if not 1 <= daily_limit <= 10**12:
            raise ValidationFailed.field("dailyLimit", "must be between 1 and 10^12")
        return plan, daily_limit
    if daily_limit is not None:
        raise ValidationFailed.field("dailyLimit", "only the scale plan takes a daily limit")
    return plan, None


async def do_set_plan(
    session: AsyncSession, user: User, plan: str, daily_limit: int | None
) -> dict[str, Any]:
    plan, limit = check_plan(plan, daily_limit)
    await repository.set_plan(session, user.id, plan, limit)
    return plan_view(user.id, plan, limit)


def plan_view(user_id: int, plan: str, custom: int | None) -> dict[str, Any]:
    return {
        "userId": str(user_id),
        "plan": plan,
        "dailyLimit": pricing.daily_limit(plan, custom),
    }


async def find_user(session: AsyncSession, who: str) -> User:
    """An account by id, username or email (the CLI's argument)."""
    from gossip.users import repository as users

    user = None
    parsed = ids.parse_id(who)
    if parsed is not None:
        user = await users.get(session, parsed)
    if user is None and "@" in who:
        user = await users.by_email(session, who.lower())
    if user is None:
        user = await repository.user_by_name(session, who)
    if user is None:
        raise NotFound("User")
    return user
