"""SQL that decides what a user may see: memberships, roles, overwrites, DM recipients."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    String,
    and_,
    bindparam,
    case,
    cast,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gossip.db.models import (
    Channel,
    DMRecipient,
    Member,
    MemberRole,
    PermissionOverwrite,
    Role,
    Server,
)
from gossip.db.sqlite_driver import Prepared
from gossip.kit.permissions import Overwrite
from gossip.threads import THREAD_TYPES


async def server_and_member(
    session: AsyncSession, server_id: int, user_id: int
) -> tuple[Server, Member] | None:
    row = (
        await session.execute(
            select(Server, Member)
            .join(Member, Member.server_id == Server.id)
            .where(Server.id == server_id, Member.user_id == user_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def roles_of_member(
    session: AsyncSession, server_id: int, user_id: int
) -> list[tuple[int, int, int]]:
    """(id, permissions, position) of @everyone and of every role the member holds."""
    held = select(MemberRole.role_id).where(
        MemberRole.server_id == server_id, MemberRole.user_id == user_id
    )
    rows = await session.execute(
        select(Role.id, Role.permissions, Role.position).where(
            or_(Role.id == server_id, Role.id.in_(held))
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def overwrites(session: AsyncSession, channel_id: int) -> list[Overwrite]:
    rows = await session.execute(
        select(
            PermissionOverwrite.target_id,
            PermissionOverwrite.type,
            PermissionOverwrite.allow,
            PermissionOverwrite.deny,
        ).where(PermissionOverwrite.channel_id == channel_id)
    )
    return [Overwrite(r[0], r[1], r[2], r[3]) for r in rows]


async def channel_server_member(
    session: AsyncSession, channel_id: int, user_id: int
) -> tuple[Channel, Server | None, Member | None] | None:
    """The channel with its server and the user's membership of it, in one query (each
    None for a DM, or the membership when the user is not in the server)."""
    row = (
        await session.execute(
            select(Channel, Server, Member)
            .outerjoin(Server, Server.id == Channel.server_id)
            .outerjoin(
                Member, and_(Member.server_id == Channel.server_id, Member.user_id == user_id)
            )
            .where(Channel.id == channel_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def roles_and_overwrites(
    session: AsyncSession, server_id: int, user_id: int, channel_id: int
) -> tuple[list[tuple[int, int, int]], list[Overwrite]]:
    """`roles_of_member` and `overwrites` of a channel in one round trip."""
    held = select(MemberRole.role_id).where(
        MemberRole.server_id == server_id, MemberRole.user_id == user_id
    )
    roles = select(
        literal_column("0").label("kind"),
        Role.id,
        Role.permissions,
        Role.position,
        literal_column("0").label("deny"),
    ).where(or_(Role.id == server_id, Role.id.in_(held)))
    overwrites = select(
        literal_column("1"),
        PermissionOverwrite.target_id,
        PermissionOverwrite.allow,
        PermissionOverwrite.type,
        PermissionOverwrite.deny,
    ).where(PermissionOverwrite.channel_id == channel_id)
    found_roles: list[tuple[int, int, int]] = []
    found_overwrites: list[Overwrite] = []
    for kind, target, a, b, deny in await session.execute(union_all(roles, overwrites)):
        if kind == 0:
            found_roles.append((target, a, b))
        else:
            found_overwrites.append(Overwrite(target, b, a, deny))
    return found_roles, found_overwrites


def _grant_statement() -> Any:
    """One statement for everything that decides what a user may do in a channel, as
    plain rows tagged by their first column:

    - 0: the channel (id, server id, type, parent id), its server's owner, the user's
      membership of that server and the user's place among the channel's DM recipients
      (each NULL when absent);
    - 1: @everyone and each role the member holds (id, permissions, position);
    - 2: the overwrites that apply (target id, type, allow, deny): a thread's are its
      parent's, as in `access.service._overwrites_source`.

    Built once (SQLAlchemy caches its compiled form) and run without the ORM."""
    c, s, m = Channel.__table__, Server.__table__, Member.__table__
    d, r, mr = DMRecipient.__table__, Role.__table__, MemberRole.__table__
    o = PermissionOverwrite.__table__
    channel_id, user_id = bindparam("channel_id"), bindparam("user_id")
    # Constants in the SQL text, so nothing is expanded per execution.
    thread_types = [literal_column(str(int(t))) for t in THREAD_TYPES]
    head = (
        select(
            literal_column("0").label("kind"),
            c.c.id,
            c.c.server_id,
            c.c.type,
            c.c.parent_id,
            s.c.owner_id,
            m.c.user_id,
            d.c.user_id,
        )
        .select_from(
            c.outerjoin(s, s.c.id == c.c.server_id)
            .outerjoin(m, and_(m.c.server_id == c.c.server_id, m.c.user_id == user_id))
            .outerjoin(d, and_(d.c.channel_id == c.c.id, d.c.user_id == user_id))
        )
        .where(c.c.id == channel_id)
    )
    server_of = select(c.c.server_id).where(c.c.id == channel_id).scalar_subquery()
    held = select(mr.c.role_id).where(mr.c.server_id == server_of, mr.c.user_id == user_id)
    roles = select(
        literal_column("1"), r.c.id, r.c.permissions, r.c.position, null(), null(), null(), null()
    ).where(or_(r.c.id == server_of, r.c.id.in_(held)))
    source = (
        select(
            case(
                (and_(c.c.type.in_(thread_types), c.c.parent_id.is_not(None)), c.c.parent_id),
                else_=c.c.id,
            )
        )
        .where(c.c.id == channel_id)
        .scalar_subquery()
    )
    overwrites = select(
        literal_column("2"), o.c.target_id, o.c.type, o.c.allow, o.c.deny, null(), null(), null()
    ).where(o.c.channel_id == source)
    return union_all(head, roles, overwrites)


_GRANT = _grant_statement()
_GRANT_SQLITE = Prepared(_GRANT)


async def grant_rows(session: AsyncSession, channel_id: int, user_id: int) -> list[Row[Any]]:
    """The rows of `_grant_statement` for this channel and user; none if no such channel."""
    connection = await session.connection()
    result = await connection.execute(_GRANT, {"channel_id": channel_id, "user_id": user_id})
    return list(result)


def grant_rows_sqlite(conn: sqlite3.Connection, channel_id: int, user_id: int) -> list[Any]:
    """`grant_rows` on a sqlite3 connection, from the thread that owns it (the group
    commit of sends, messages/group_commit.py): the same statement, as plain tuples."""
    return _GRANT_SQLITE.run(conn, {"channel_id": channel_id, "user_id": user_id})


async def channel(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def is_dm_recipient(session: AsyncSession, channel_id: int, user_id: int) -> bool:
    found = await session.scalar(
        select(DMRecipient.user_id).where(
            DMRecipient.channel_id == channel_id, DMRecipient.user_id == user_id
        )
    )
    return found is not None


# --- in bulk: every place a user may read (search) ------------------------------------------


async def memberships(
    session: AsyncSession, user_id: int, server_id: int | None = None
) -> list[tuple[int, int]]:
    """(server id, owner id) of every server the user is a member of (or just `server_id`)."""
    query = (
        select(Server.id, Server.owner_id)
        .join(Member, Member.server_id == Server.id)
        .where(Member.user_id == user_id)
    )
    if server_id is not None:
        query = query.where(Server.id == server_id)
    return [(r[0], r[1]) for r in await session.execute(query)]


async def roles_in_servers(
    session: AsyncSession, user_id: int, server_ids: list[int]
) -> list[tuple[int, int, int]]:
    """(server id, role id, permissions) of @everyone and of every role the user holds, in
    each of `server_ids`."""
    held = select(MemberRole.role_id).where(
        MemberRole.user_id == user_id, MemberRole.server_id.in_(server_ids)
    )
    rows = await session.execute(
        select(Role.server_id, Role.id, Role.permissions).where(
            Role.server_id.in_(server_ids), or_(Role.id == Role.server_id, Role.id.in_(held))
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def channels_in_servers(
    session: AsyncSession, server_ids: list[int]
) -> list[tuple[int, int, int, int | None]]:
    """(id, server id, type, parent id) of every channel and thread of `server_ids`."""
    rows = await session.execute(
        select(Channel.id, Channel.server_id, Channel.type, Channel.parent_id).where(
            Channel.server_id.in_(server_ids)
        )
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def overwrites_in_servers(
    session: AsyncSession, server_ids: list[int]
) -> dict[int, list[Overwrite]]:
    """Every overwrite of every channel of `server_ids`, by channel."""
    found: dict[int, list[Overwrite]] = {}
    if not server_ids:
        return found
    rows = await session.scalars(
        select(PermissionOverwrite)
        .join(Channel, Channel.id == PermissionOverwrite.channel_id)
        .where(Channel.server_id.in_(server_ids))
    )
    for o in rows:
        found.setdefault(o.channel_id, []).append(Overwrite(o.target_id, o.type, o.allow, o.deny))
    return found


async def dm_channel_ids(session: AsyncSession, user_id: int) -> list[int]:
    return list(
        await session.scalars(select(DMRecipient.channel_id).where(DMRecipient.user_id == user_id))
    )


# --- in one statement: every channel a user can see, for search -----------------------------

VISIBLE_ALL, VISIBLE_SERVER, VISIBLE_CHANNEL = "all", "server", "channel"


def _visible_statement(scope: str) -> Any:
    """One statement for everything that decides which channels a user can see, within
    `scope`: all their servers and DMs, one server (`:server_id`), or one channel
    (`:channel_id`). Plain rows tagged by their first column, the same facts
    `readable_channel_ids` reads in five queries and `grant_rows` for one channel:

    - 0: a server the user is a member of (server id, owner id);
    - 1: @everyone and each role the user holds there (server id, role id, permissions);
    - 2: a channel or thread of those servers (id, server id, type, parent id, message
      count, name);
    - 3: an overwrite of those channels (channel id, target id, type, allow, deny); for
      one channel, those that apply to it (a thread's are its parent's);
    - 4: a DM or group DM the user is in (id, NULL, type, NULL, message count, name).

    Built once per scope (SQLAlchemy caches its compiled form) and run without the ORM."""
    c, s, m = Channel.__table__, Server.__table__, Member.__table__
    d, r, mr = DMRecipient.__table__, Role.__table__, MemberRole.__table__
    o = PermissionOverwrite.__table__
    user_id = bindparam("user_id")
    if scope == VISIBLE_CHANNEL:
        channel_id = bindparam("channel_id")
        in_scope: Any = (
            s.c.id == select(c.c.server_id).where(c.c.id == channel_id).scalar_subquery()
        )
    elif scope == VISIBLE_SERVER:
        in_scope = s.c.id == bindparam("server_id")
    else:
        in_scope = true()
    servers = (
        select(s.c.id).join(m, m.c.server_id == s.c.id).where(m.c.user_id == user_id, in_scope)
    )
    # Typed NULLs: PostgreSQL resolves a column of a UNION from its first branches, and
    # two untyped NULLs make it text.
    nothing = [cast(null(), BigInteger)] * 5
    no_name = cast(null(), String)
    memberships = select(
        literal_column("0").label("kind"), s.c.id, s.c.owner_id, *nothing[:3], no_name
    )
    memberships = memberships.join_from(s, m, m.c.server_id == s.c.id).where(
        m.c.user_id == user_id, in_scope
    )
    held = select(mr.c.role_id).where(mr.c.user_id == user_id, mr.c.server_id == r.c.server_id)
    roles = select(
        literal_column("1"), r.c.server_id, r.c.id, r.c.permissions, *nothing[:2], no_name
    ).where(r.c.server_id.in_(servers), or_(r.c.id == r.c.server_id, r.c.id.in_(held)))
    channels = select(
        literal_column("2"),
        c.c.id,
        c.c.server_id,
        c.c.type,
        c.c.parent_id,
        c.c.message_count,
        c.c.name,
    ).where(c.c.server_id.in_(servers))
    overwrite_columns = (
        literal_column("3"),
        o.c.channel_id,
        o.c.target_id,
        o.c.type,
        o.c.allow,
        o.c.deny,
        no_name,
    )
    dms = (
        select(
            literal_column("4"),
            c.c.id,
            nothing[0],
            c.c.type,
            nothing[0],
            c.c.message_count,
            c.c.name,
        )
        .join_from(c, d, d.c.channel_id == c.c.id)
        .where(d.c.user_id == user_id)
    )
    if scope == VISIBLE_CHANNEL:
        thread_types = [literal_column(str(int(t))) for t in THREAD_TYPES]
        channels = channels.where(c.c.id == channel_id)
        # As `_grant_statement`: a thread is seen as its parent is.
        source = (
            select(
                case(
                    (and_(c.c.type.in_(thread_types), c.c.parent_id.is_not(None)), c.c.parent_id),
                    else_=c.c.id,
                )
            )
            .where(c.c.id == channel_id)
            .scalar_subquery()
        )
        overwrites = select(*overwrite_columns).where(o.c.channel_id == source)
        return union_all(memberships, roles, channels, overwrites, dms.where(c.c.id == channel_id))
    in_servers = select(c.c.id).where(c.c.server_id.in_(servers))
    overwrites = select(*overwrite_columns).where(o.c.channel_id.in_(in_servers))
    if scope == VISIBLE_SERVER:
        return union_all(memberships, roles, channels, overwrites)
    return union_all(memberships, roles, channels, overwrites, dms)


_VISIBLE = {
    scope: _visible_statement(scope) for scope in (VISIBLE_ALL, VISIBLE_SERVER, VISIBLE_CHANNEL)
}


async def visible_rows(
    session: AsyncSession,
    user_id: int,
    *,
    server_id: int | None = None,
    channel_id: int | None = None,
) -> list[Row[Any]]:
    """The rows of `_visible_statement`: for `channel_id` if given, else for `server_id`
    if given, else for everything the user is in."""
    values: dict[str, Any] = {"user_id": user_id}
    if channel_id is not None:
        scope, values["channel_id"] = VISIBLE_CHANNEL, channel_id
    elif server_id is not None:
        scope, values["server_id"] = VISIBLE_SERVER, server_id
    else:
        scope = VISIBLE_ALL
    connection = await session.connection()
    return list(await connection.execute(_VISIBLE[scope], values))
