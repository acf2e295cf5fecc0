"""Accounts and tokens of spec 002's DM chat (the legacy surface).

Spec 002 logs in with an account ID and a username, no secret. Its accounts are ordinary
users without email or password; they, and only they, may log in that way, so an account
that has a password (registered through Chirp, an admin, a bot) can never be entered with
public details alone.

Its token is a long-lived bearer secret, `gl_<login session id>.<secret>`, kept in
`auth_sessions` as a SHA-256 digest like a refresh token, but never rotated (spec 002's
clients keep one token). The `gl_` prefix keeps the two kinds apart: Chirp's refresh
reads the session ID before the first dot, which `gl_…` never is, and a refresh token
lacks the prefix whose digest a legacy token's row holds.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import repository
from gossip.auth.subject import Actor
from gossip.db.models import AuthSession, User
from gossip.kit import ids
from gossip.kit.errors import AlreadyExists, Unauthorized
from gossip.kit.security import digest, new_secret, same_digest
from gossip.kit.timefmt import utcnow
from gossip.users import repository as users
from gossip.users.service import check_username

TOKEN_PREFIX = "gl_"


def is_legacy_account(user: User) -> bool:
    return user.password_hash is None and user.email is None and not user.bot


async def do_register(session: AsyncSession, username: str) -> User:
    """A new account with only a username (unique, as every Gossip username is)."""
    name = check_username(username)
    if await users.username_taken(session, name):
        raise AlreadyExists("Username already taken")
    user = User(
        id=ids.new_id(),
        username=name,
        email=None,
        password_hash=None,
        status="online",
        flags=0,
        bot=False,
        is_admin=False,
        disabled=False,
    )
    session.add(user)
    await session.flush()
    return user


async def check_login(session: AsyncSession, account_id: str, username: str) -> User:
    """The legacy account with this ID and exactly this username; one error for every
    mismatch, so a failed login tells nothing about which part was wrong."""
    user_id = ids.parse_id(account_id)
    user = await users.get(session, user_id) if user_id else None
    if user is None or user.username != username or not is_legacy_account(user):
        raise Unauthorized("Invalid account ID or username")
    if user.disabled:
        raise Unauthorized("Account is disabled")
    return user


async def do_open_session(session: AsyncSession, user: User, ttl: int) -> tuple[str, Actor]:
    """A new token for the user, and the actor it stands for."""
    session_id = ids.new_id()
    token = f"{TOKEN_PREFIX}{session_id}.{new_secret(48)}"
    session.add(
        AuthSession(
            id=session_id,
            user_id=user.id,
            refresh_hash=digest(token),
            expires_at=utcnow() + timedelta(seconds=ttl),
            revoked=False,
        )
    )
    await session.flush()
    return token, Actor(user_id=user.id, session_id=session_id, username=user.username)


def _session_id_of(token: str) -> int | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    head, dot, _ = token[len(TOKEN_PREFIX) :].partition(".")
    return ids.parse_id(head) if dot else None


async def authenticate(session: AsyncSession, token: str) -> Actor:
    """The actor behind a legacy token: one query, as for every Chirp request. A disabled
    account's token stops working at once, like a revoked one."""
    session_id = _session_id_of(token)
    found = await repository.with_user(session, session_id) if session_id else None
    if found is None:
        raise Unauthorized("Invalid token")
    login, user = found
    expires = login.expires_at
    if expires.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    if (
        login.revoked
        or expires <= utcnow()
        or not same_digest(digest(token), login.refresh_hash)
        or user.disabled
    ):
        raise Unauthorized("Invalid token")
    return Actor(user_id=user.id, session_id=login.id, username=user.username)
