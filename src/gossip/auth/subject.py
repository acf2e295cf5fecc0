"""Who is making a request, as the services see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    session_id: int
    username: str
    is_admin: bool = False
    bot: bool = False
