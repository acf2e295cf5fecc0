"""The canonical JSON shapes of members: the `/api` representation, which events carry too.

Services build event payloads from these and surfaces render responses from them, so a
client sees the same object whether it asked for it or was told about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gossip.db.models import Member, User
from gossip.kit.permissions import to_wire
from gossip.kit.timefmt import iso


def user_brief(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "username": user.username, "avatar": user.avatar, "bot": user.bot}


def member(member: Member, user: User, role_ids: Iterable[int], permissions: int) -> dict[str, Any]:
    return {
        "user": user_brief(user),
        # Sorted so the same member always renders the same way.
        "roles": [str(r) for r in sorted(role_ids)],
        "joinedAt": iso(member.joined_at),
        "premiumSince": iso(member.premium_since),
        "nickname": member.nickname,
        "pending": member.pending,
        "permissions": to_wire(permissions),
    }
