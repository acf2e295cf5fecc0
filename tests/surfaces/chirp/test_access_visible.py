"""`visible_channels` (search's one-statement access) decides exactly as `access_channel`
(every channel route) and `readable_channel_ids` (search's five queries before it).

The world of test_access_grant (roles, overwrites, a thread in a private channel, a
category, a voice channel, a DM and a group DM) is asked, for every user, in the same read
transaction of the server's own database, in each of the three scopes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gossip.access.service import access_channel, readable_channel_ids, visible_channels
from gossip.auth.subject import Actor
from gossip.db.engine import connect
from gossip.kit.errors import NotFound
from gossip.kit.permissions import Permission, has
from tests.live import Live
from tests.surfaces.chirp.test_access_grant import _world

READ = int(Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)


def test_visible_channels_decide_as_access_channel(live: Live) -> None:
    users, channel_ids = _world(live)
    server_id = live.data(live.get(f"/api/channels/{channel_ids[0]}", users[0]))["serverId"]

    async def run() -> list[str]:
        db = connect(live.settings.resolved_database_url)
        wrong: list[str] = []
        seen = 0
        try:
            async with db.read_session() as session:
                for user in users:
                    actor = Actor(user_id=int(user.id), session_id=0, username=user.username)
                    every = {c.id: c for c in await visible_channels(session, actor)}
                    readable = set(await readable_channel_ids(session, actor, READ))
                    mine = {c for c, v in every.items() if has(v.permissions, READ)}
                    if readable != mine:
                        wrong.append(f"{user.username}: readable {readable} != {mine}")
                    try:
                        in_server: Any = {
                            c.id: c.permissions
                            for c in await visible_channels(
                                session, actor, server_id=int(server_id)
                            )
                        }
                    except NotFound:
                        in_server = NotFound
                    expected_server = {
                        c.id: c.permissions for c in every.values() if c.server_id == int(server_id)
                    }
                    if in_server is NotFound:
                        # Only for someone outside the server, who sees none of it.
                        if expected_server:
                            wrong.append(f"{user.username}: server NotFound")
                    elif in_server != expected_server:
                        wrong.append(f"{user.username}: server {in_server} != {expected_server}")
                    for channel_id in channel_ids:
                        try:
                            full: Any = (
                                await access_channel(session, actor, channel_id)
                            ).permissions
                        except NotFound:
                            full = NotFound
                        alone = await visible_channels(session, actor, channel_id=channel_id)
                        one: Any = alone[0].permissions if alone else NotFound
                        listed = every[channel_id].permissions if channel_id in every else NotFound
                        if not full == one == listed:
                            wrong.append(f"{user.username} {channel_id}: {full} {one} {listed}")
                        if len(alone) > 1:
                            wrong.append(f"{user.username} {channel_id}: {len(alone)} rows")
                        seen += full is not NotFound
        finally:
            await db.dispose()
        assert seen > 10  # the world is not empty
        return wrong

    assert asyncio.run(run()) == []


def test_a_server_they_are_not_in_is_not_found(live: Live) -> None:
    users, channel_ids = _world(live)
    outsider = users[-1]
    server_id = live.data(live.get(f"/api/channels/{channel_ids[0]}", users[0]))["serverId"]

    async def run() -> None:
        db = connect(live.settings.resolved_database_url)
        try:
            async with db.read_session() as session:
                actor = Actor(user_id=int(outsider.id), session_id=0, username=outsider.username)
                with pytest.raises(NotFound):
                    await visible_channels(session, actor, server_id=int(server_id))
                with pytest.raises(NotFound):
                    await visible_channels(session, actor, server_id=1234567890123456789)
        finally:
            await db.dispose()

    asyncio.run(run())
