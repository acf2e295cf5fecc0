"""Rules for servers (Discord's guilds)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.auth.subject import Actor
from gossip.db.models import Channel, Member, Role, Server
from gossip.events import Audience, emit
from gossip.kit import ids
from gossip.kit.errors import ValidationFailed
from gossip.kit.permissions import DEFAULT_EVERYONE_PERMISSIONS
from gossip.kit.timefmt import utcnow

MAX_SERVERS_PER_USER = 200


def check_server_name(raw: str) -> str:
    name = raw.strip()
    if not 2 <= len(name) <= 100:
        raise ValidationFailed.field("name", "must be 2-100 characters")
    return name


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
    from gossip.servers import repository

    if len(await repository.server_ids_of(session, actor.user_id)) >= MAX_SERVERS_PER_USER:
        raise ValidationFailed(f"You can be in at most {MAX_SERVERS_PER_USER} servers")
    server_id = ids.new_id()
    server = Server(
        id=server_id,
        name=check_server_name(name),
        region=region,
        icon=icon,
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
