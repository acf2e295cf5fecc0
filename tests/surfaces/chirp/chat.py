"""Builders shared by the channel, DM, message and reaction tests; all through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gossip.kit.permissions import Permission
from tests.live import Live, User


@dataclass
class Room:
    """A server owned by `owner`, which `member` has joined, and its #general channel."""

    owner: User
    member: User
    server_id: str
    channel_id: str


def room(live: Live) -> Room:
    owner, member = live.register(), live.register()
    server_id = live.create_server(owner)
    live.join(member, server_id, owner)
    channels = live.data(live.get(f"/api/servers/{server_id}/channels", owner))
    return Room(owner, member, server_id, channels[0]["id"])


def send(live: Live, user: User, channel_id: str, content: str = "hello", **body: Any) -> Any:
    path = f"/api/channels/{channel_id}/messages"
    return live.data(live.post(path, user, json={"content": content, **body}), 201)


def channel(live: Live, owner: User, server_id: str, **body: Any) -> Any:
    body.setdefault("name", "room")
    return live.data(live.post(f"/api/servers/{server_id}/channels", owner, json=body), 201)


def set_overwrite(
    live: Live,
    owner: User,
    channel_id: str,
    target_id: str,
    *,
    allow: int = 0,
    deny: int = 0,
    kind: int = 0,
) -> Any:
    path = f"/api/channels/{channel_id}/permissions/{target_id}"
    body = {"type": kind, "allow": str(allow), "deny": str(deny)}
    return live.data(live.put(path, owner, json=body))


def deny_everyone(live: Live, r: Room, *perms: Permission, channel_id: str | None = None) -> None:
    """Takes permissions from @everyone (whose role ID is the server's) in one channel."""
    bits = 0
    for p in perms:
        bits |= int(p)
    set_overwrite(live, r.owner, channel_id or r.channel_id, r.server_id, deny=bits)


def grant_role(live: Live, r: Room, user: User, *perms: Permission) -> str:
    """A new role with `perms` (on top of @everyone's), given to `user`; its ID."""
    bits = 0
    for p in perms:
        bits |= int(p)
    role = live.create_role(r.owner, r.server_id, name="helpers", permissions=str(bits))
    live.give_role(r.owner, r.server_id, user.id, role["id"])
    return str(role["id"])
