"""A server's permission picture in memory, so fan-out asks no queries per delivery.

Loaded on first need, dropped by the hub whenever an event may change who sees what
(roles, overwrites, channels, membership); the next delivery loads it afresh.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from gossip.gateway import repository
from gossip.kit.permissions import (
    Overwrite,
    Permission,
    base_permissions,
    channel_permissions,
    has,
)


class ServerSnapshot:
    def __init__(
        self,
        server_id: int,
        owner_id: int | None,
        roles: dict[int, int],
        overwrites: dict[int, list[Overwrite]],
    ) -> None:
        self.server_id = server_id
        self.owner_id = owner_id
        self.roles = roles
        self.overwrites = overwrites
        self.member_roles: dict[int, set[int]] = {}
        self._views: dict[tuple[int, int], bool] = {}

    @classmethod
    async def load(cls, session: AsyncSession, server_id: int) -> ServerSnapshot:
        return cls(
            server_id,
            await repository.server_owner(session, server_id),
            await repository.role_permissions(session, server_id),
            await repository.channel_overwrites(session, server_id),
        )

    async def ensure_members(self, session: AsyncSession, user_ids: Collection[int]) -> None:
        missing = [uid for uid in user_ids if uid not in self.member_roles]
        if missing:
            self.member_roles.update(
                await repository.member_roles(session, self.server_id, missing)
            )

    def can_view(self, user_id: int, channel_id: int) -> bool:
        key = (user_id, channel_id)
        cached = self._views.get(key)
        if cached is None:
            cached = self._views[key] = self._compute_view(user_id, channel_id)
        return cached

    def base(self, user_id: int) -> int:
        """The user's server-wide permissions."""
        return base_permissions(
            is_owner=user_id == self.owner_id,
            everyone=self.roles.get(self.server_id, 0),
            role_permissions=(self.roles.get(r, 0) for r in self.member_roles.get(user_id, ())),
        )

    def can_view_with(self, user_id: int, overwrites: list[Overwrite]) -> bool:
        """Whether the user sees a channel with these overwrites (one just deleted, say)."""
        perms = channel_permissions(
            self.base(user_id),
            everyone_id=self.server_id,
            member_id=user_id,
            member_role_ids=self.member_roles.get(user_id, set()),
            overwrites=overwrites,
        )
        return has(perms, Permission.VIEW_CHANNEL)

    def _compute_view(self, user_id: int, channel_id: int) -> bool:
        overwrites = self.overwrites.get(channel_id)
        if overwrites is None:
            return False  # not a channel of this server (or created after the load)
        return self.can_view_with(user_id, overwrites)
