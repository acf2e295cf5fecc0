"""Rules for servers (Discord's guilds): create, read, update, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.access.service import ServerAccess, access_server
from gossip.audit import service as audit
from gossip.auth.subject import Actor
from gossip.db.models import Channel, Member, Role, Server
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.kit.permissions import (
    DEFAULT_EVERYONE_PERMISSIONS,
    Permission,
    base_permissions,
    to_wire,
)
from gossip.kit.timefmt import iso, utcnow
from gossip.servers import repository, views

MAX_SERVERS_PER_USER = 200
MAX_FEATURES = 20
MAX_URL_LENGTH = 512
MAX_DESCRIPTION_LENGTH = 1024

# Features a server's managers may switch on themselves. Discord's platform-granted ones
# (VERIFIED, PARTNERED, …) are left out: nobody may award them to their own server.
SETTABLE_FEATURES = frozenset(
    {
        "ANIMATED_BANNER",
        "ANIMATED_ICON",
        "BANNER",
        "COMMUNITY",
        "DISCOVERABLE",
        "INVITE_SPLASH",
        "NEWS",
        "PREVIEW_ENABLED",
        "ROLE_ICONS",
        "VANITY_URL",
        "WELCOME_SCREEN_ENABLED",
    }
)


def check_server_name(raw: str) -> str:
    name = raw.strip()
    if not 2 <= len(name) <= 100:
        raise ValidationFailed.field("name", "must be 2-100 characters")
    return name


def check_image_url(field: str, raw: str | None) -> str | None:
    """An icon or banner: an http(s) URL or a path on this server; empty clears it.

    Uploads will produce such URLs; until then clients pass them directly, and anything
    else (a `javascript:` URL, whitespace a client might split on) is refused."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_URL_LENGTH:
        raise ValidationFailed.field(field, f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        raise ValidationFailed.field(field, "must not contain spaces or control characters")
    lowered = raw.lower()
    if not (
        lowered.startswith(("http://", "https://")) or (raw.startswith("/") and raw[1:2] != "/")
    ):
        raise ValidationFailed.field(field, "must be an http(s) URL or an absolute path")
    return raw


def check_description(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed.field(
            "description", f"must be at most {MAX_DESCRIPTION_LENGTH} characters"
        )
    return text or None


def check_features(raw: list[str]) -> list[str]:
    """The allow-listed features, duplicates dropped, in the order given."""
    unknown = sorted({f for f in raw if f not in SETTABLE_FEATURES})
    if unknown:
        raise ValidationFailed.field("features", f"unknown features: {', '.join(unknown)}")
    features = list(dict.fromkeys(raw))
    if len(features) > MAX_FEATURES:
        raise ValidationFailed.field("features", f"at most {MAX_FEATURES} features")
    return features


async def do_create_server(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    region: str | None = None,
    icon: str | None = None,
) -> Server:
    """Creates a server owned by the actor, with its @everyone role (sharing the server's
    ID, as in Discord), the owner's membership and a #general text channel."""
    if await repository.count_servers_of(session, actor.user_id) >= MAX_SERVERS_PER_USER:
        raise ValidationFailed(f"You can be in at most {MAX_SERVERS_PER_USER} servers")
    server_id = ids.new_id()
    server = Server(
        id=server_id,
        name=check_server_name(name),
        region=region,
        icon=check_image_url("icon", icon),
        owner_id=actor.user_id,
        features=[],
        boost_level=0,
    )
    session.add(server)
    await session.flush()
    session.add(
        Role(
            id=server_id,
            server_id=server_id,
            name="@everyone",
            permissions=DEFAULT_EVERYONE_PERMISSIONS,
            position=0,
            color=0,
            hoist=False,
            mentionable=False,
        )
    )
    session.add(Member(server_id=server_id, user_id=actor.user_id, joined_at=utcnow()))
    session.add(Channel(id=ids.new_id(), server_id=server_id, type=0, name="general", position=0))
    await session.flush()
    emit(
        session,
        "SERVER_CREATE",
        {"id": str(server.id), "name": server.name, "ownerId": str(actor.user_id)},
        Audience(user_ids=(actor.user_id,)),
    )
    return server


async def server_data(session: AsyncSession, server: Server) -> dict[str, Any]:
    """The server as every member sees it, with its counts."""
    return views.server(
        server,
        member_count=await repository.member_count(session, server.id),
        channel_count=await repository.channel_count(session, server.id),
    )


async def details_for(session: AsyncSession, access: ServerAccess) -> dict[str, Any]:
    return views.server_for_member(
        await server_data(session, access.server),
        permissions=access.permissions,
        joined_at=access.member.joined_at,
    )


async def access_server_details(
    session: AsyncSession, actor: Actor, server_id: int | None
) -> dict[str, Any]:
    """The server as the actor sees it; NotFound unless they are a member."""
    return await details_for(session, await access_server(session, actor, server_id))


async def list_servers(session: AsyncSession, actor: Actor) -> list[dict[str, Any]]:
    """The actor's servers in the order they joined them, with their permissions in each."""
    everyone: dict[int, int] = {}
    held: dict[int, list[int]] = {}
    for server_id, role_id, permissions in await repository.role_permissions_of(
        session, actor.user_id
    ):
        if role_id == server_id:
            everyone[server_id] = permissions
        else:
            held.setdefault(server_id, []).append(permissions)
    items: list[dict[str, Any]] = []
    for membership in await repository.memberships(session, actor.user_id):
        server = membership.server
        is_owner = server.owner_id == actor.user_id
        permissions = base_permissions(
            is_owner=is_owner,
            everyone=everyone.get(server.id, 0),
            role_permissions=held.get(server.id, ()),
        )
        items.append(
            {
                "id": str(server.id),
                "name": server.name,
                "icon": server.icon,
                "ownerId": str(server.owner_id),
                "memberCount": membership.member_count,
                "isOwner": is_owner,
                "permissions": to_wire(permissions),
                "joinedAt": iso(membership.joined_at),
            }
        )
    return items


@dataclass(frozen=True, slots=True)
class ServerChanges:
    """Fields a PATCH names; None in an optional field clears it, an absent field keeps it.
    `given` lists the fields present in the request."""

    given: frozenset[str]
    name: str | None = None
    icon: str | None = None
    banner: str | None = None
    description: str | None = None
    features: list[str] | None = None


async def do_update_server(
    session: AsyncSession, actor: Actor, server_id: int | None, changes: ServerChanges
) -> dict[str, Any]:
    """Precondition: the actor is a member with MANAGE_GUILD. Emits SERVER_UPDATE to the
    server when anything changed; returns the server as the actor sees it."""
    access = await access_server(session, actor, server_id)
    access.require(Permission.MANAGE_GUILD)
    values: dict[str, Any] = {}
    if "name" in changes.given:
        if changes.name is None:
            raise ValidationFailed.field("name", "must not be null")
        values["name"] = check_server_name(changes.name)
    for field in ("icon", "banner"):
        if field in changes.given:
            values[field] = check_image_url(field, getattr(changes, field))
    if "description" in changes.given:
        values["description"] = check_description(changes.description)
    if "features" in changes.given:
        if changes.features is None:
            raise ValidationFailed.field("features", "must not be null")
        values["features"] = check_features(changes.features)
    server = access.server
    values = {k: v for k, v in values.items() if getattr(server, k) != v}
    if values:
        await repository.update_fields(session, server.id, values)
        audit.record(
            session,
            "GUILD_UPDATE",
            actor.user_id,
            server_id=server.id,
            target_id=server.id,
            options={"changes": values},
        )
        data = await server_data(session, server)
        emit(session, "SERVER_UPDATE", data, Audience(server_id=server.id))
    return await details_for(session, access)


async def do_delete_server(session: AsyncSession, actor: Actor, server_id: int | None) -> None:
    """Precondition: the actor owns the server (other members get Forbidden, everyone else
    NotFound). Emits SERVER_DELETE to every former member."""
    access = await access_server(session, actor, server_id)
    access.require_owner()
    server_id = access.server.id
    members = await repository.member_ids(session, server_id)
    await repository.delete_server(session, server_id)
    emit(
        session,
        "SERVER_DELETE",
        {"id": str(server_id), "serverId": str(server_id)},
        # The server's membership is gone once this commits: name the recipients now.
        Audience(server_id=server_id, user_ids=tuple(members)),
    )
