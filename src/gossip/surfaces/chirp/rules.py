"""Every `/api` route declares who may call it, in its OpenAPI entry (`x-gossip-access`).

The declaration is documentation for API users and the source of the permission-matrix
test, which fails for any route that has none. The services enforce; this only states.

scopes:
  public   no token needed
  user     any signed-in user; nothing server-scoped in the path
  server   members of the server in the path, or of the invite's in the path (others get
           404), plus `permission`
  channel  users who can see the channel in the path (others get 404), plus `permission`
  owner    the server's owner (other members get 403)
  author   only the author of the message in the path (others who can see it get 403)
  admin    platform administrators
`or_author`: the author of the message (or creator of the invite) in the path may act without
`permission`.
"""

from __future__ import annotations

from typing import Any, Literal

from gossip.kit.permissions import Permission

Scope = Literal["public", "user", "server", "channel", "owner", "author", "admin"]


def access(
    scope: Scope, permission: Permission | None = None, *, or_author: bool = False
) -> dict[str, Any]:
    return {
        "x-gossip-access": {
            "scope": scope,
            "permission": permission.name if permission is not None else None,
            "orAuthor": or_author,
        }
    }
