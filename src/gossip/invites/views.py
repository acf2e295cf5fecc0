"""The canonical JSON shape of an invite (the `/api` representation; events add serverId)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gossip.db.models import Invite, Server, User
from gossip.kit.timefmt import iso
from gossip.members.views import user_brief


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def max_age(invite: Invite) -> int:
    """Seconds the invite was made to last; 0 for never expiring."""
    if invite.expires_at is None:
        return 0
    return round((_aware(invite.expires_at) - _aware(invite.created_at)).total_seconds())


def invite(
    invite: Invite, server: Server, *, member_count: int, inviter: User | None
) -> dict[str, Any]:
    return {
        "code": invite.code,
        "server": {
            "id": str(server.id),
            "name": server.name,
            "icon": server.icon,
            "memberCount": member_count,
        },
        "channelId": str(invite.channel_id) if invite.channel_id else None,
        "inviter": user_brief(inviter) if inviter else None,
        "uses": invite.uses,
        "maxUses": invite.max_uses,
        "maxAge": max_age(invite),
        "expiresAt": iso(invite.expires_at),
        "createdAt": iso(invite.created_at),
    }
