"""Rules for roles: the hierarchy, who may grant what, and @everyone's special place.

Hierarchy: a role's position orders it; a member's rank is their highest role's position
(the owner outranks everyone). Nobody creates, edits, deletes or moves a role at or above
their own rank, and nobody grants a permission they do not hold themselves, unless they
own the server or are administrators (whose permissions are all of them). @everyone has
the server's ID and position 0: it cannot be deleted, moved or renamed.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import ServerAccess, access_server, rank_of
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.db.models import Role
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import Forbidden, NotFound, ValidationFailed
from gossip.kit.permissions import Permission, parse_permissions
from gossip.roles import repository, views
from gossip.servers import repository as servers

MAX_ROLES = 250  # per server, @everyone included
MAX_COLOR = 0xFFFFFF
DEFAULT_NAME = "new role"


def check_role_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw).strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed.field("name", "must be 1-100 characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValidationFailed.field("name", "contains characters that are not allowed")
    return name


def check_color(value: int) -> int:
    if not 0 <= value <= MAX_COLOR:
        raise ValidationFailed.field("color", f"must be 0-{MAX_COLOR}")
    return value


def check_permissions(raw: object) -> int:
    try:
        return parse_permissions(raw)
    except ValueError as exc:
        raise ValidationFailed.field("permissions", str(exc)) from None


def _check_grantable(access: ServerAccess, added: int) -> None:
    """Only bits the actor holds may be granted (owners and administrators hold all)."""
    missing = added & ~access.permissions
    if missing:
        names = ", ".join(p.name or str(int(p)) for p in Permission(missing))
        raise Forbidden(f"You cannot grant permissions you do not have: {names}")


def _event_data(role: Role) -> dict[str, Any]:
    return {**views.role(role), "serverId": str(role.server_id)}


async def _locked(session: AsyncSession, access: ServerAccess) -> ServerAccess:
    """Takes the server's role lock and re-reads the actor's rank under it, so hierarchy
    checks see the positions as they are now rather than before a concurrent move."""
    await servers.lock(session, access.server.id)
    rank = await rank_of(session, access.server, access.member.user_id)
    return dataclasses.replace(access, rank=rank)


async def _access_role(session: AsyncSession, access: ServerAccess, role_id: int | None) -> Role:
    role = await repository.get_in_server(session, access.server.id, role_id) if role_id else None
    if role is None:
        raise NotFound("Role")
    return role


async def list_roles(
    session: AsyncSession, actor: Actor, server_id: int | None
) -> list[dict[str, Any]]:
    """Every role of a server the actor belongs to, lowest first."""
    access = await access_server(session, actor, server_id)
    return [views.role(r) for r in await repository.list_for_server(session, access.server.id)]


@dataclass(frozen=True, slots=True)
class RoleFields:
    """Fields a request names; absent ones (None) keep their value or default."""

    name: str | None = None
    color: int | None = None
    hoist: bool | None = None
    mentionable: bool | None = None
    permissions: object = None


async def do_create_role(
    session: AsyncSession, actor: Actor, server_id: int | None, fields: RoleFields
) -> dict[str, Any]:
    """Precondition: MANAGE_ROLES, fewer than MAX_ROLES roles, and only grantable bits.
    The role goes in at position 1, above @everyone, moving the others up, as in Discord.
    Emits ROLE_CREATE, and ROLE_UPDATE for each role that moved."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_ROLES)
    name = check_role_name(fields.name) if fields.name is not None else DEFAULT_NAME
    color = check_color(fields.color) if fields.color is not None else 0
    permissions = check_permissions(fields.permissions) if fields.permissions is not None else 0
    _check_grantable(access, permissions)
    access = await _locked(session, access)
    server_id = access.server.id
    if await repository.count(session, server_id) >= MAX_ROLES:
        raise ValidationFailed(f"A server can have at most {MAX_ROLES} roles")
    await repository.shift_up(session, server_id)
    role = Role(
        id=ids.new_id(),
        server_id=server_id,
        name=name,
        color=color,
        hoist=bool(fields.hoist),
        mentionable=bool(fields.mentionable),
        permissions=permissions,
        position=1,
    )
    await repository.add(session, role)
    audit.record(
        session,
        "ROLE_CREATE",
        actor.user_id,
        server_id=server_id,
        target_id=role.id,
        options={"name": name, "permissions": permissions, "color": color},
    )
    emit(session, "ROLE_CREATE", _event_data(role), Audience(server_id=server_id))
    for other in await repository.list_for_server(session, server_id):
        if other.id not in (role.id, server_id):
            emit(session, "ROLE_UPDATE", _event_data(other), Audience(server_id=server_id))
    return views.role(role)


async def do_update_role(
    session: AsyncSession,
    actor: Actor,
    server_id: int | None,
    role_id: int | None,
    fields: RoleFields,
) -> dict[str, Any]:
    """Precondition: MANAGE_ROLES, a role below the actor's rank, and added permission bits
    the actor holds. @everyone keeps its name. Emits ROLE_UPDATE on a change."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_ROLES)
    access = await _locked(session, access)
    role = await _access_role(session, access, role_id)
    access.require_outranks(role.position, "role")
    values: dict[str, Any] = {}
    if fields.name is not None:
        name = check_role_name(fields.name)
        if role.id == access.server.id and name != role.name:
            raise ValidationFailed.field("name", "@everyone cannot be renamed")
        values["name"] = name
    if fields.color is not None:
        values["color"] = check_color(fields.color)
    if fields.hoist is not None:
        values["hoist"] = fields.hoist
    if fields.mentionable is not None:
        values["mentionable"] = fields.mentionable
    if fields.permissions is not None:
        permissions = check_permissions(fields.permissions)
        # Removing a bit one does not hold is fine; only granting needs holding it.
        _check_grantable(access, permissions & ~role.permissions)
        values["permissions"] = permissions
    values = {k: v for k, v in values.items() if getattr(role, k) != v}
    if values:
        await repository.update_fields(session, role.id, values)
        audit.record(
            session,
            "ROLE_UPDATE",
            actor.user_id,
            server_id=access.server.id,
            target_id=role.id,
            options={"changes": values},
        )
        emit(session, "ROLE_UPDATE", _event_data(role), Audience(server_id=access.server.id))
    return views.role(role)


async def do_delete_role(
    session: AsyncSession, actor: Actor, server_id: int | None, role_id: int | None
) -> None:
    """Precondition: MANAGE_ROLES and a role below the actor's rank; never @everyone.
    Members lose the role; the roles above it move down one. Emits ROLE_DELETE and
    ROLE_UPDATE for each role that moved."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_ROLES)
    access = await _locked(session, access)
    role = await _access_role(session, access, role_id)
    server_id = access.server.id
    if role.id == server_id:
        raise ValidationFailed("@everyone cannot be deleted")
    access.require_outranks(role.position, "role")
    position = role.position
    await repository.delete_role(session, role.id)
    audit.record(
        session,
        "ROLE_DELETE",
        actor.user_id,
        server_id=server_id,
        target_id=role.id,
        options={"name": role.name},
    )
    await repository.shift_down_above(session, server_id, position)
    emit(
        session,
        "ROLE_DELETE",
        {"id": str(role.id), "serverId": str(server_id)},
        Audience(server_id=server_id),
    )
    for other in await repository.list_for_server(session, server_id):
        if other.id != server_id and other.position >= position:
            emit(session, "ROLE_UPDATE", _event_data(other), Audience(server_id=server_id))


@dataclass(frozen=True, slots=True)
class Move:
    role_id: int
    position: int


def _reordered(roles: list[Role], moves: list[Move]) -> dict[int, int]:
    """The new position of every role (@everyone excluded), dense 1..N.

    Moved roles take the slot they asked for (clamped to 1..N); the others fill the free
    slots in their current order, so a move shifts its neighbours and nothing else.
    """
    slots: list[int | None] = [None] * len(roles)
    for move in moves:
        slots[min(max(move.position, 1), len(roles)) - 1] = move.role_id
    moved = {m.role_id for m in moves}
    rest = iter(r.id for r in roles if r.id not in moved)
    return {
        (slot if slot is not None else next(rest)): index + 1 for index, slot in enumerate(slots)
    }


async def do_reorder_roles(
    session: AsyncSession, actor: Actor, server_id: int | None, moves: list[Move]
) -> list[dict[str, Any]]:
    """Precondition: MANAGE_ROLES; every moved role and the slot it goes to are below the
    actor's rank; no role or position twice; never @everyone. Emits ROLE_UPDATE for each
    role whose position changed; returns every role, lowest first."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_ROLES)
    access = await _locked(session, access)
    server_id = access.server.id
    if len({m.role_id for m in moves}) != len(moves):
        raise ValidationFailed.field("id", "a role is listed twice")
    if len({m.position for m in moves}) != len(moves):
        raise ValidationFailed.field("position", "two roles cannot take the same position")
    everything = await repository.list_for_server(session, server_id)
    roles = [r for r in everything if r.id != server_id]
    by_id = {r.id: r for r in roles}
    for move in moves:
        if move.role_id == server_id:
            raise ValidationFailed.field("id", "@everyone cannot be moved")
        if move.role_id not in by_id:
            raise ValidationFailed.field("id", f"unknown role {move.role_id}")
        access.require_outranks(by_id[move.role_id].position, "role")
    positions = _reordered(roles, moves)
    # A move below one's rank can still push another role up to it; the ranks of roles at
    # or above the actor must not change, which dense positions guarantee if no moved
    # role lands at or above the actor's rank.
    for move in moves:
        access.require_outranks(positions[move.role_id], "position")
    for role in roles:
        if positions[role.id] != role.position:
            await repository.update_fields(session, role.id, {"position": positions[role.id]})
            audit.record(
                session,
                "ROLE_UPDATE",
                actor.user_id,
                server_id=server_id,
                target_id=role.id,
                options={"changes": {"position": positions[role.id]}},
            )
            emit(session, "ROLE_UPDATE", _event_data(role), Audience(server_id=server_id))
    everything.sort(key=lambda r: (r.position, r.id))
    return [views.role(r) for r in everything]
