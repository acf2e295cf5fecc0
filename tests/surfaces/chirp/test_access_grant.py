"""`access_channel_grant` (the send's one-statement access) decides exactly as
`access_channel` (the ORM path every other channel route takes).

A world of roles, overwrites, a thread, a category and DMs is built through the API; then,
for every user and every channel, both functions are asked in the same read transaction of
the server's own database and must agree: the same permissions, or both NotFound.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gossip.access.service import access_channel, access_channel_grant
from gossip.auth.subject import Actor
from gossip.db.engine import connect
from gossip.kit.errors import NotFound
from gossip.kit.permissions import Permission
from tests.live import Live, User
from tests.surfaces.chirp.chat import channel, room, send, set_overwrite

VIEW = int(Permission.VIEW_CHANNEL)
SEND = int(Permission.SEND_MESSAGES)
THREADS = int(Permission.SEND_MESSAGES_IN_THREADS)


def _role(live: Live, owner: User, server_id: str, user: User, permissions: int) -> str:
    role = live.create_role(owner, server_id, name="r", permissions=str(permissions))
    live.give_role(owner, server_id, user.id, role["id"])
    return str(role["id"])


def _world(live: Live) -> tuple[list[User], list[int]]:
    r = room(live)
    moderator, muted, trusted, admin, outsider = (live.register() for _ in range(5))
    for user in (moderator, muted, trusted, admin):
        live.join(user, r.server_id, r.owner)
    mods = _role(live, r.owner, r.server_id, moderator, int(Permission.MANAGE_MESSAGES) | SEND)
    quiet = _role(live, r.owner, r.server_id, muted, 0)
    _role(live, r.owner, r.server_id, admin, int(Permission.ADMINISTRATOR))

    # Private: hidden from @everyone, shown to the moderators' role and one member.
    private = channel(live, r.owner, r.server_id, name="private")["id"]
    set_overwrite(live, r.owner, private, r.server_id, deny=VIEW)
    set_overwrite(live, r.owner, private, mods, allow=VIEW)
    set_overwrite(live, r.owner, private, trusted.id, allow=VIEW | SEND, kind=1)
    # Read-only for @everyone; a role denied more; a member allowed back.
    announcements = channel(live, r.owner, r.server_id, name="news")["id"]
    set_overwrite(live, r.owner, announcements, r.server_id, deny=SEND | THREADS)
    set_overwrite(live, r.owner, announcements, quiet, deny=VIEW)
    set_overwrite(live, r.owner, announcements, muted.id, allow=VIEW, kind=1)
    # A thread in the private channel: seen and used as its parent is.
    start = send(live, r.owner, private, "start here")["id"]
    path = f"/api/channels/{private}/messages/{start}/threads"
    thread = live.data(live.post(path, r.owner, json={"name": "a thread"}), 201)["id"]
    category = channel(live, r.owner, r.server_id, name="cat", type=4)["id"]
    voice = channel(live, r.owner, r.server_id, name="Lounge", type=2)["id"]
    dm = live.data(
        live.post("/api/users/me/channels", r.member, json={"recipients": [r.owner.id]}), 201
    )["id"]
    group = live.data(
        live.post(
            "/api/users/me/channels",
            trusted,
            json={"recipients": [r.owner.id, outsider.id]},
        ),
        201,
    )["id"]
    users = [r.owner, r.member, moderator, muted, trusted, admin, outsider]
    channels = [r.channel_id, private, announcements, thread, category, voice, dm, group]
    return users, [int(c) for c in channels] + [1234567890123456789]


def _decide(
    live: Live, users: list[User], channel_ids: list[int]
) -> list[tuple[int, int, Any, Any]]:
    async def run() -> list[tuple[int, int, Any, Any]]:
        db = connect(live.settings.resolved_database_url)
        found: list[tuple[int, int, Any, Any]] = []
        try:
            async with db.read_session() as session:
                for user in users:
                    actor = Actor(user_id=int(user.id), session_id=0, username=user.username)
                    for channel_id in channel_ids:
                        try:
                            full: Any = (
                                await access_channel(session, actor, channel_id)
                            ).permissions
                        except NotFound:
                            full = NotFound
                        try:
                            grant: Any = await access_channel_grant(session, actor, channel_id)
                            grant = grant.permissions
                        except NotFound:
                            grant = NotFound
                        found.append((int(user.id), channel_id, full, grant))
        finally:
            await db.dispose()
        return found

    return asyncio.run(run())


def test_the_grant_decides_as_access_channel(live: Live) -> None:
    users, channel_ids = _world(live)
    decisions = _decide(live, users, channel_ids)
    disagreements = [d for d in decisions if d[2] != d[3]]
    assert not disagreements, disagreements
    # The world is not trivial: some pairs see nothing, some see with differing rights.
    outcomes = {d[2] for d in decisions}
    assert NotFound in outcomes and len(outcomes) >= 4, outcomes
