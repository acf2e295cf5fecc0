"""Accounts, logins and tokens.

An access token is a short-lived JWT naming a login session; the refresh token is
`<session id>.<secret>`, stored as a SHA-256 digest and replaced on every use. Presenting a
refresh token that is no longer the current one means it was copied: the whole session is
revoked, so both the thief and the owner must log in again (OAuth 2.0 Security BCP 4.14).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth import repository
from gossip.auth.subject import Actor
from gossip.db.models import AuthSession, User
from gossip.events import SESSION_REVOKED, Audience, emit
from gossip.kit import ids
from gossip.kit.errors import AccountDisabled, AlreadyExists, Unauthorized
from gossip.kit.security import (
    AccessClaims,
    AccessTokens,
    PasswordHashing,
    digest,
    new_secret,
    same_digest,
)
from gossip.kit.timefmt import utcnow
from gossip.users import repository as users
from gossip.users.service import check_username


class RefreshReuse(Unauthorized):
    """Raised after revoking a session whose old refresh token came back. The revocation
    is a write the caller must commit even though the request fails."""

    default_message = "Refresh token reuse detected; session revoked"


@dataclass(frozen=True, slots=True)
class Tokens:
    access: str
    refresh: str


async def hash_password(passwords: PasswordHashing, password: str) -> str:
    # Argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await anyio.to_thread.run_sync(passwords.hash, password)


async def do_register(
    session: AsyncSession, *, username: str, email: str, password_hash: str
) -> User:
    """Creates the account. The password is hashed by the caller before the transaction
    starts, so the write lock is not held while argon2 runs."""
    name = check_username(username)
    if await users.email_taken(session, email):
        raise AlreadyExists("Email already registered")
    if await users.username_taken(session, name):
        raise AlreadyExists("Username already taken")
    user = User(
        id=ids.new_id(),
        username=name,
        email=email.lower(),
        password_hash=password_hash,
        status="online",
        flags=0,
        bot=False,
        is_admin=False,
        disabled=False,
    )
    session.add(user)
    await session.flush()
    return user


async def check_credentials(
    session: AsyncSession, passwords: PasswordHashing, *, email: str, password: str
) -> User:
    """The user whose password this is. The same error, after the same work, whether the
    email is unknown or the password wrong, so a login never reveals who has an account."""
    user = await users.by_email(session, email)
    valid = await anyio.to_thread.run_sync(
        passwords.verify, user.password_hash if user else None, password
    )
    if user is None or not valid:
        raise Unauthorized("Invalid email or password")
    if user.disabled:
        raise AccountDisabled()
    return user


async def do_open_session(
    session: AsyncSession, tokens: AccessTokens, user: User, refresh_ttl: int
) -> Tokens:
    session_id = ids.new_id()
    secret = f"{session_id}.{new_secret()}"
    session.add(
        AuthSession(
            id=session_id,
            user_id=user.id,
            refresh_hash=digest(secret),
            expires_at=utcnow() + timedelta(seconds=refresh_ttl),
            revoked=False,
        )
    )
    await session.flush()
    return Tokens(tokens.issue(user.id, session_id), secret)


def _session_id_of(refresh_token: str) -> int | None:
    head, dot, _ = refresh_token.partition(".")
    return ids.parse_id(head) if dot else None


async def do_refresh(
    session: AsyncSession, tokens: AccessTokens, refresh_token: str, refresh_ttl: int
) -> Tokens:
    session_id = _session_id_of(refresh_token)
    found = await repository.with_user(session, session_id) if session_id else None
    if found is None:
        raise Unauthorized("Invalid refresh token")
    login, user = found
    if login.revoked or _expired(login):
        raise Unauthorized("Invalid refresh token")
    presented = digest(refresh_token)
    if not same_digest(presented, login.refresh_hash):
        # A superseded token came back: it was copied. End the whole family.
        await repository.revoke(session, login.id)
        raise RefreshReuse()
    if user.disabled:
        raise AccountDisabled()
    secret = f"{login.id}.{new_secret()}"
    if not await repository.rotate(
        session, login.id, presented, digest(secret), utcnow() + timedelta(seconds=refresh_ttl)
    ):
        raise Unauthorized("Invalid refresh token")
    return Tokens(tokens.issue(user.id, login.id), secret)


def _expired(login: AuthSession) -> bool:
    expires = login.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    return expires <= utcnow()


async def do_logout(session: AsyncSession, actor: Actor) -> None:
    """Revokes the login; its gateway sockets are closed too (an internal event)."""
    await repository.revoke(session, actor.session_id)
    emit(
        session,
        SESSION_REVOKED,
        {"authSessionId": str(actor.session_id)},
        Audience(user_ids=(actor.user_id,)),
    )


def read_token(tokens: AccessTokens, token: str) -> AccessClaims:
    """The claims of a well-signed, unexpired access token."""
    claims = tokens.read(token)
    if claims is None:
        raise Unauthorized("Invalid or expired token")
    return claims


async def actor_of(session: AsyncSession, claims: AccessClaims) -> Actor:
    """The actor behind verified claims, if their login session is still live."""
    found = await repository.with_user(session, claims.session_id)
    if found is None:
        raise Unauthorized("Invalid or expired token")
    login, user = found
    if login.revoked or login.user_id != claims.user_id:
        raise Unauthorized("Session has been revoked")
    if user.disabled:
        raise AccountDisabled()
    return Actor(
        user_id=user.id,
        session_id=login.id,
        username=user.username,
        is_admin=user.is_admin,
        bot=user.bot,
    )


async def authenticate(session: AsyncSession, tokens: AccessTokens, token: str) -> Actor:
    """The actor behind an access token, if its login session is still live."""
    return await actor_of(session, read_token(tokens, token))
