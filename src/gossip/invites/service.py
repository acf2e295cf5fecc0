"""Rules for invites: who may create and revoke them, and joining a server through one."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access import repository as access_repository
from gossip.access.service import ChannelAccess, access_server, permissions_in
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.db.models import Invite
from gossip.events import Audience, emit
from gossip.invites import repository, views
from gossip.kit.errors import NotFound, ValidationFailed
from gossip.kit.ids import parse_id
from gossip.kit.permissions import Permission, has
from gossip.kit.timefmt import utcnow
from gossip.members import service as members_service
from gossip.servers import repository as servers
from gossip.servers import service as servers_service
from gossip.users import repository as users

CODE_ALPHABET = string.ascii_letters + string.digits
# 62**10 ≈ 8e17 codes: guessing one is hopeless within any rate limit.
CODE_LENGTH = 10
MAX_CODE_LENGTH = 32  # the column; longer input names nothing
MAX_USES = 100
MAX_AGE = 7 * 24 * 3600
DEFAULT_MAX_AGE = 24 * 3600
MAX_INVITES_PER_SERVER = 1000


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def is_live(invite: Invite) -> bool:
    if invite.max_uses and invite.uses >= invite.max_uses:
        return False
    if invite.expires_at is not None:
        expires = invite.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= utcnow():
            return False
    return True


def could_be_code(code: str) -> bool:
    """Whether `code` is shaped like one: anything else names nothing, so it is not looked
    up (a NUL in it would even be a database error on PostgreSQL)."""
    return 0 < len(code) <= MAX_CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code)


async def access_live_invite(session: AsyncSession, code: str) -> Invite:
    """An invite that can still be used; expired and used-up ones do not exist."""
    invite = await repository.get(session, code) if could_be_code(code) else None
    if invite is None or not is_live(invite):
        raise NotFound("Invite")
    return invite


async def _invite_data(session: AsyncSession, invite: Invite) -> dict[str, Any]:
    server = await servers.get(session, invite.server_id)
    if server is None:  # the foreign key cascades; only a concurrent delete gets here
        raise NotFound("Invite")
    return views.invite(
        invite,
        server,
        member_count=await servers.member_count(session, server.id),
        inviter=await users.get(session, invite.inviter_id),
    )


async def access_invite_preview(session: AsyncSession, code: str) -> dict[str, Any]:
    """What anyone holding the code may see before joining. Public."""
    return await _invite_data(session, await access_live_invite(session, code))


def check_limits(max_uses: int, max_age: int) -> None:
    if not 0 <= max_uses <= MAX_USES:
        raise ValidationFailed.field("maxUses", f"must be 0-{MAX_USES}")
    if not 0 <= max_age <= MAX_AGE:
        raise ValidationFailed.field("maxAge", f"must be 0-{MAX_AGE}")


async def do_create_invite(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    *,
    max_uses: int = 0,
    max_age: int = DEFAULT_MAX_AGE,
    channel_id: str | None = None,
) -> dict[str, Any]:
    """Precondition: CREATE_INSTANT_INVITE in the server, and in the channel if one is
    named (it must be one of the server's channels the actor can see). `max_uses` 0 means
    unlimited, `max_age` 0 never expiring. Emits INVITE_CREATE."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.CREATE_INSTANT_INVITE)
    check_limits(max_uses, max_age)
    channel = None
    if channel_id is not None:
        found = await access_repository.channel(session, parse_id(channel_id) or 0)
        perms = 0
        if found is not None and found.server_id == access.server.id:
            channel = found
            perms = await permissions_in(session, access, channel)
        # A channel hidden from the actor does not exist for them either.
        if channel is None or not has(perms, Permission.VIEW_CHANNEL):
            raise ValidationFailed.field("channelId", "no such channel in this server")
        ChannelAccess(channel, access, perms).require(Permission.CREATE_INSTANT_INVITE)
    now = utcnow()
    await repository.purge_dead(session, access.server.id, now)
    if await repository.count_for_server(session, access.server.id) >= MAX_INVITES_PER_SERVER:
        raise ValidationFailed(f"A server can have at most {MAX_INVITES_PER_SERVER} invites")
    code = new_code()
    while await repository.exists(session, code):
        code = new_code()
    invite = Invite(
        code=code,
        server_id=access.server.id,
        channel_id=channel.id if channel else None,
        inviter_id=actor.user_id,
        max_uses=max_uses,
        uses=0,
        expires_at=now + timedelta(seconds=max_age) if max_age else None,
        created_at=now,
    )
    await repository.add(session, invite)
    audit.record(
        session,
        "INVITE_CREATE",
        actor.user_id,
        server_id=invite.server_id,
        options={
            "code": code,
            "channelId": invite.channel_id,
            "maxUses": max_uses,
            "maxAge": max_age,
        },
    )
    data = await _invite_data(session, invite)
    emit(
        session,
        "INVITE_CREATE",
        {**data, "serverId": str(access.server.id)},
        # Codes are listed only with MANAGE_GUILD; the events keep them as private.
        Audience(server_id=access.server.id, permission=int(Permission.MANAGE_GUILD)),
    )
    return data


async def list_invites(
    session: AsyncSession, actor: Actor, server_id: int | None
) -> list[dict[str, Any]]:
    """Precondition: MANAGE_GUILD. The server's usable invites, oldest first."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_GUILD)
    member_count = await servers.member_count(session, access.server.id)
    return [
        views.invite(invite, access.server, member_count=member_count, inviter=inviter)
        for invite, inviter in await repository.live_for_server(session, access.server.id, utcnow())
    ]


async def do_accept_for_user(session: AsyncSession, user_id: int, code: str) -> Invite:
    """Joins the invite's server. A use is counted only when it adds a member."""
    invite = await access_live_invite(session, code)
    _, joined = await members_service.do_join(session, invite.server_id, user_id)
    if joined and not await repository.count_use(session, invite.code):
        raise NotFound("Invite")
    return invite


async def do_accept(session: AsyncSession, actor: Actor, code: str) -> dict[str, Any]:
    """The actor joins through the invite (Banned if banned; a no-op for members) and
    gets the server as they now see it."""
    invite = await do_accept_for_user(session, actor.user_id, code)
    return await servers_service.access_server_details(session, actor, invite.server_id)


async def do_delete_invite(session: AsyncSession, actor: Actor, code: str) -> None:
    """Precondition: the actor created the invite, or has MANAGE_GUILD in its server.
    Expired invites can be deleted too. Emits INVITE_DELETE."""
    invite = await repository.get(session, code) if could_be_code(code) else None
    if invite is None:
        raise NotFound("Invite")
    try:
        access = await access_server(session, actor, invite.server_id)
    except NotFound:
        raise NotFound("Invite") from None
    if invite.inviter_id != actor.user_id:
        access.require(Permission.MANAGE_GUILD)
    await repository.remove(session, invite.code)
    audit.record(
        session,
        "INVITE_DELETE",
        actor.user_id,
        server_id=invite.server_id,
        options={"code": invite.code, "channelId": invite.channel_id, "uses": invite.uses},
    )
    emit(
        session,
        "INVITE_DELETE",
        {
            "code": invite.code,
            "serverId": str(invite.server_id),
            "channelId": str(invite.channel_id) if invite.channel_id else None,
        },
        Audience(server_id=invite.server_id, permission=int(Permission.MANAGE_GUILD)),
    )
