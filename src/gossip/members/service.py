"""Rules for membership: joining, leaving, kicks, nicknames and the roles members hold."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access import repository as access_repository
from gossip.access.service import ServerAccess, access_server, rank_of
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.bans import repository as bans
from gossip.db.models import Member, Role, Server, User
from gossip.events import Audience, emit
from gossip.kit.errors import Banned, NotFound, ValidationFailed
from gossip.kit.permissions import Permission, base_permissions
from gossip.kit.timefmt import utcnow
from gossip.members import repository, views
from gossip.roles import repository as roles
from gossip.servers import repository as servers
from gossip.servers.service import MAX_SERVERS_PER_USER
from gossip.users import repository as users
from gossip.voice import service as voice_service

MAX_PAGE = 1000
NICKNAME_MAX = 32


# --- reading -------------------------------------------------------------------------


async def member_data(
    session: AsyncSession, server: Server, member: Member, user: User
) -> dict[str, Any]:
    """The member as `/api` shows them, with their roles and server-level permissions."""
    held = await access_repository.roles_of_member(session, server.id, user.id)
    everyone = next((perms for role_id, perms, _ in held if role_id == server.id), 0)
    others = [(role_id, perms) for role_id, perms, _ in held if role_id != server.id]
    permissions = base_permissions(
        is_owner=server.owner_id == user.id,
        everyone=everyone,
        role_permissions=(perms for _, perms in others),
    )
    return views.member(member, user, (role_id for role_id, _ in others), permissions)


async def _member_and_user(
    session: AsyncSession, server_id: int, user_id: int | None
) -> tuple[Member, User]:
    found = await repository.with_user(session, server_id, user_id) if user_id else None
    if found is None:
        raise NotFound("Member")
    return found


async def access_member(
    session: AsyncSession, actor: Actor, server_id: int | None, user_id: int | None
) -> dict[str, Any]:
    """One member of a server the actor belongs to; NotFound for either."""
    access = await access_server(session, actor, server_id)
    member, user = await _member_and_user(session, access.server.id, user_id)
    return await member_data(session, access.server, member, user)


async def list_members(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    *,
    after: int = 0,
    limit: int = 50,
    query: str | None = None,
) -> list[dict[str, Any]]:
    """Members in user-ID order after `after` (0 for the first page), optionally only those
    whose username or nickname starts with `query`. Any member may list them."""
    access = await access_server(session, actor, server_id)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.field("limit", f"must be 1-{MAX_PAGE}")
    server = access.server
    rows = await repository.page(
        session, server.id, after=after, limit=limit, prefix=(query or "").strip() or None
    )
    role_ids = await repository.role_ids_by_user(session, server.id, [u.id for _, u in rows])
    # One pass over the server's roles (at most 250) instead of a query per member.
    permissions_of = {
        role.id: role.permissions for role in await roles.list_for_server(session, server.id)
    }
    everyone = permissions_of.get(server.id, 0)
    out = []
    for member, user in rows:
        held = role_ids[user.id]
        permissions = base_permissions(
            is_owner=server.owner_id == user.id,
            everyone=everyone,
            role_permissions=(permissions_of.get(r, 0) for r in held),
        )
        out.append(views.member(member, user, held, permissions))
    return out


# --- joining and leaving -------------------------------------------------------------


async def do_join(session: AsyncSession, server_id: int, user_id: int) -> tuple[Member, bool]:
    """Adds the user to the server unless banned; joining twice is a no-op.

    Precondition: the caller decided the user may join (an invite). Emits MEMBER_ADD.
    Returns the membership and whether it is new.
    """
    await servers.lock(session, server_id)
    existing = await repository.get(session, server_id, user_id)
    if existing is not None:
        return existing, False
    if await bans.get(session, server_id, user_id) is not None:
        raise Banned("You are banned from this server")
    if await servers.count_servers_of(session, user_id) >= MAX_SERVERS_PER_USER:
        raise ValidationFailed(f"You can be in at most {MAX_SERVERS_PER_USER} servers")
    server = await session.get(Server, server_id)
    user = await users.get(session, user_id)
    if server is None or user is None:
        raise NotFound("Server" if server is None else "User")
    member = Member(server_id=server_id, user_id=user_id, joined_at=utcnow(), pending=False)
    await repository.add(session, member)
    data = await member_data(session, server, member, user)
    emit(
        session,
        "MEMBER_ADD",
        {**data, "serverId": str(server_id)},
        Audience(server_id=server_id, user_ids=(user_id,)),
    )
    return member, True


async def do_remove_member(session: AsyncSession, server_id: int, user: User) -> bool:
    """Ends the membership (if any) and emits MEMBER_REMOVE to the server and the user.

    Precondition: the caller checked that this may happen (leave, kick or ban).
    """
    removed = await repository.remove(session, server_id, user.id)
    if removed:
        await voice_service.do_clear_in_server(session, server_id, user)  # out of its voice
        emit(
            session,
            "MEMBER_REMOVE",
            {"serverId": str(server_id), "user": views.user_brief(user)},
            Audience(server_id=server_id, user_ids=(user.id,)),
        )
    return removed


async def do_leave(session: AsyncSession, actor: Actor, server_id: int | None) -> None:
    """The actor leaves a server they are a member of. The owner cannot: the server would
    be left without one."""
    access = await access_server(session, actor, server_id)
    if access.is_owner:
        raise ValidationFailed(
            "The owner cannot leave the server; transfer ownership or delete it first"
        )
    user = await users.get(session, actor.user_id)
    assert user is not None  # the actor was authenticated in this request
    await do_remove_member(session, access.server.id, user)


async def check_outranks_member(
    session: AsyncSession, access: ServerAccess, target_id: int
) -> None:
    """Forbidden unless the actor's highest role is above the target's (or they own the
    server); the owner is above everyone."""
    access.require_outranks(await rank_of(session, access.server, target_id))


async def do_kick(
    session: AsyncSession, actor: Actor, server_id: int | None, user_id: int | None
) -> None:
    """Precondition: KICK_MEMBERS and a target below the actor; nobody kicks themselves
    (that is leaving) or the owner."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.KICK_MEMBERS)
    _, user = await _member_and_user(session, access.server.id, user_id)
    if user.id == actor.user_id:
        raise ValidationFailed("You cannot kick yourself; leave the server instead")
    await check_outranks_member(session, access, user.id)
    await do_remove_member(session, access.server.id, user)
    audit.record(
        session, "MEMBER_KICK", actor.user_id, server_id=access.server.id, target_id=user.id
    )


# --- changing a member ---------------------------------------------------------------


def check_nickname(raw: str | None) -> str | None:
    """A nickname, or None to clear it (null or empty)."""
    if raw is None:
        return None
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        return None
    if len(name) > NICKNAME_MAX:
        raise ValidationFailed.field("nickname", f"must be at most {NICKNAME_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValidationFailed.field("nickname", "contains characters that are not allowed")
    return name


async def _emit_member_update(
    session: AsyncSession, server: Server, member: Member, user: User
) -> dict[str, Any]:
    data = await member_data(session, server, member, user)
    emit(
        session,
        "MEMBER_UPDATE",
        {**data, "serverId": str(server.id)},
        Audience(server_id=server.id, user_ids=(user.id,)),
    )
    return data


async def do_set_nickname(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    user_id: int | None,
    nickname: str | None,
) -> dict[str, Any]:
    """Precondition: for oneself CHANGE_NICKNAME (or MANAGE_NICKNAMES); for others
    MANAGE_NICKNAMES and a target below the actor. Emits MEMBER_UPDATE on a change."""
    access = await access_server(session, actor, server_id)
    member, user = await _member_and_user(session, access.server.id, user_id)
    if user.id == actor.user_id:
        if not access.permissions & (Permission.CHANGE_NICKNAME | Permission.MANAGE_NICKNAMES):
            access.require(Permission.CHANGE_NICKNAME)
    else:
        access.require(Permission.MANAGE_NICKNAMES)
        await check_outranks_member(session, access, user.id)
    nickname = check_nickname(nickname)
    if nickname == member.nickname:
        return await member_data(session, access.server, member, user)
    await repository.update_fields(session, access.server.id, user.id, {"nickname": nickname})
    if user.id != actor.user_id:  # a moderator's change
        audit.record(
            session,
            "MEMBER_UPDATE",
            actor.user_id,
            server_id=access.server.id,
            target_id=user.id,
            options={"nick": nickname},
        )
    return await _emit_member_update(session, access.server, member, user)


async def _role_change(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    user_id: int | None,
    role_id: int | None,
) -> tuple[ServerAccess, Member, User, Role]:
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_ROLES)
    server = access.server
    role = await roles.get_in_server(session, server.id, role_id) if role_id else None
    if role is None:
        raise NotFound("Role")
    member, user = await _member_and_user(session, server.id, user_id)
    if role.id == server.id:
        raise ValidationFailed("@everyone belongs to every member; it cannot be given or taken")
    access.require_outranks(role.position, "role")
    return access, member, user, role


async def do_add_role(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    user_id: int | None,
    role_id: int | None,
) -> dict[str, Any]:
    """Precondition: MANAGE_ROLES and a role below the actor's highest (any, for the owner);
    never @everyone. Idempotent; emits MEMBER_UPDATE when the member gained the role."""
    access, member, user, role = await _role_change(session, actor, server_id, user_id, role_id)
    if await repository.has_role(session, access.server.id, user.id, role.id):
        return await member_data(session, access.server, member, user)
    await repository.add_role(session, access.server.id, user.id, role.id)
    audit.record(
        session,
        "MEMBER_ROLE_UPDATE",
        actor.user_id,
        server_id=access.server.id,
        target_id=user.id,
        options={"$add": [{"id": role.id, "name": role.name}]},
    )
    return await _emit_member_update(session, access.server, member, user)


async def do_remove_role(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    user_id: int | None,
    role_id: int | None,
) -> None:
    """The preconditions of do_add_role. Idempotent; emits MEMBER_UPDATE on a change."""
    access, member, user, role = await _role_change(session, actor, server_id, user_id, role_id)
    if await repository.remove_role(session, access.server.id, user.id, role.id):
        audit.record(
            session,
            "MEMBER_ROLE_UPDATE",
            actor.user_id,
            server_id=access.server.id,
            target_id=user.id,
            options={"$remove": [{"id": role.id, "name": role.name}]},
        )
        await _emit_member_update(session, access.server, member, user)
