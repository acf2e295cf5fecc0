"""The canonical JSON shape of a role (the `/api` representation; events add serverId)."""

from __future__ import annotations

from typing import Any

from gossip.db.models import Role
from gossip.kit.permissions import to_wire


def role(role: Role) -> dict[str, Any]:
    return {
        "id": str(role.id),
        "name": role.name,
        "color": role.color,
        "hoist": role.hoist,
        "mentionable": role.mentionable,
        "position": role.position,
        "permissions": to_wire(role.permissions),
        # Roles that integrations manage do not exist yet; the field is part of the shape.
        "managed": False,
    }
