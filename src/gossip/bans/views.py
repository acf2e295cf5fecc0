"""The canonical JSON shape of a ban (the `/api` representation; events add serverId)."""

from __future__ import annotations

from typing import Any

from gossip.db.models import Ban, User
from gossip.kit.timefmt import iso
from gossip.members.views import user_brief


def ban(ban: Ban, user: User) -> dict[str, Any]:
    return {
        "user": user_brief(user),
        "reason": ban.reason,
        "moderatorId": str(ban.moderator_id) if ban.moderator_id else None,
        "createdAt": iso(ban.created_at),
    }
