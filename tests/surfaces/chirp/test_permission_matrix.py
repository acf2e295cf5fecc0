"""The permission matrix: every `/api` route, asked by each persona, answers as its rule says.

Routes come from the app's route table, rules from each operation's `x-gossip-access` in the
OpenAPI document (`surfaces/chirp/rules.py`), requests from `REQUESTS` below. A route without a
declaration, with a rule this file cannot exercise, or missing from `REQUESTS` fails its cells,
so no route slips in unchecked. Each cell sends its request over real HTTP, on both backends.

Who asks, in a server built for the matrix whose @everyone holds VIEW_CHANNEL and nothing else:

  anonymous       no token                          401, except on public routes (2xx)
  non_member      signed in, in no matrix server    404 for server, channel, owner and author
                                                    scopes (existence must not leak); 2xx for
                                                    public and user scopes
  member_without  @everyone's VIEW_CHANNEL only     403 if the rule names a permission, or is
                                                    owner- or author-scoped; else 2xx
  member_with     one role granting exactly the     2xx; for owner and author scopes the role
                  rule's permission (none if the    grants ADMINISTRATOR, which must not be
                  rule names none)                  enough: 403
  owner           the server's owner                2xx (author-scoped routes act on a message
                                                    the owner wrote)
  author          or_author rules only: a member    2xx
                  without the permission, acting
                  on what they created themselves
  admin           admin rules only: a platform      2xx; every other signed-in persona gets
                  administrator (gossip create-      403 (ADMINISTRATOR in a server is not
                  admin), in no matrix server       platform administration)

Everything else is acted on as the peer's: a member with everyday permissions (send, read
history, react, invite, attach files) and no moderation ones, whose role ranks below every
persona's. So the owner and member_with succeed through the permission, never through
authorship. Requests that
destroy or move what they name get fresh objects (or a fresh server) per cell; the others share
one world per backend. `EXCEPTIONS` lists, with reasons, the cells the rule alone does not decide.
"""

from __future__ import annotations

import enum
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from gossip.app import create_app
from gossip.config import Settings
from gossip.kit.permissions import ALL_PERMISSIONS, Permission
from tests.live import Live, User
from tests.surfaces.chirp.admins import make_admin
from tests.surfaces.chirp.chat import channel, send, set_overwrite

PREFIX = "/api/"
PERSONAS = ("anonymous", "non_member", "member_without", "member_with", "owner")
AUTHOR = "author"  # the extra persona of or_author rules
ADMIN = "admin"  # the extra persona of admin rules
SCOPES = ("public", "user", "server", "channel", "owner", "author", "admin")

# What @everyone holds in matrix servers: seeing channels, so the channel scope has members
# who pass its visibility check and still lack everything a rule can name.
BASELINE = int(Permission.VIEW_CHANNEL)
# The peer's role: what creating messages, reactions and invites takes, nothing that moderates.
PEER = int(
    Permission.SEND_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.CREATE_INSTANT_INVITE
    | Permission.ATTACH_FILES
)
OK = "2xx"
EMOJI = "👍"
PASSWORD = "correct horse battery"

# Cells where the rule alone does not decide the answer. Each entry says why.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # The refresh token is itself the credential (sent as the bearer token): someone with
    # no session has nothing to refresh. Signed-in personas send their own refresh token.
    ("POST /api/auth/refresh", "anonymous"): "401",
    # Owners cannot leave their server (it would have none); they delete it instead.
    ("DELETE /api/users/me/servers/{server_id}", "owner"): "400",
}


# --- the route table and its rules -----------------------------------------------------


def _inspect_app() -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(method, path) of every /api route, in the app's order, and the OpenAPI document."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), secret_key="permission-matrix"))
        routes: list[tuple[str, str]] = []
        for route in iter_route_contexts(app.routes):
            path = route.path or ""
            if path.startswith(PREFIX):
                routes.extend((method, path) for method in sorted(route.methods or ()))
        return routes, app.openapi()


ROUTES, DOCUMENT = _inspect_app()


class Unexercisable(Exception):
    """The route's declaration is missing, or names something this matrix cannot test."""


@dataclass(frozen=True)
class Rule:
    scope: str
    permission: Permission | None
    or_author: bool

    @property
    def grant(self) -> int:
        """What member_with's one role grants."""
        if self.scope in ("owner", "author", "admin"):
            return int(Permission.ADMINISTRATOR)  # even all permissions must not be enough
        return int(self.permission or 0)


def rule_of(method: str, path: str) -> Rule:
    operation = DOCUMENT["paths"].get(path, {}).get(method.lower())
    if operation is None:
        raise Unexercisable("not in the OpenAPI document, so its access rule is invisible")
    declared = operation.get("x-gossip-access")
    if not isinstance(declared, dict):
        raise Unexercisable("declares no access rule: add openapi_extra=access(...)")
    name = declared.get("permission")
    if name is not None and name not in Permission.__members__:
        raise Unexercisable(f"unknown permission {name!r}")
    rule = Rule(
        scope=str(declared.get("scope")),
        permission=Permission[name] if name is not None else None,
        or_author=bool(declared.get("orAuthor")),
    )
    if rule.scope not in SCOPES:
        raise Unexercisable(f"unknown scope {rule.scope!r}")
    if rule.scope in ("public", "user", "owner", "author", "admin") and (
        rule.permission is not None or rule.or_author
    ):
        raise Unexercisable(f"scope {rule.scope!r} takes no permission and no or_author")
    if rule.permission is not None and rule.permission & BASELINE:
        raise Unexercisable(f"{rule.permission.name} is in @everyone's baseline here")
    if rule.or_author and (rule.permission is None or rule.permission & PEER):
        raise Unexercisable("or_author needs a permission the author (the peer) lacks")
    return rule


def rule_or_reason(method: str, path: str) -> Rule | str:
    try:
        return rule_of(method, path)
    except Unexercisable as exc:
        return str(exc)


def expected(rule: Rule, persona: str) -> str:
    if rule.scope == "public":
        return OK
    if persona == "anonymous":
        return "401"
    if rule.scope == "admin":
        return OK if persona == ADMIN else "403"
    if rule.scope == "user":
        return OK
    if persona == "non_member":
        return "404"
    if persona in ("owner", AUTHOR):
        return OK
    if rule.scope in ("owner", "author"):
        return "403"
    if persona == "member_with":
        return OK
    return "403" if rule.permission is not None else OK


@dataclass(frozen=True)
class Cell:
    method: str
    path: str
    persona: str

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def __str__(self) -> str:
        return f"{self.route} as {self.persona}"


def _cells() -> Iterator[Cell]:
    for method, path in ROUTES:
        rule = rule_or_reason(method, path)  # if a reason, its cells fail and give it
        extra = (AUTHOR,) if isinstance(rule, Rule) and rule.or_author else ()
        if isinstance(rule, Rule) and rule.scope == "admin":
            extra = (ADMIN,)
        for persona in (*PERSONAS, *extra):
            yield Cell(method, path, persona)


CELLS = list(_cells())


# --- the world requests are made in ------------------------------------------------------


@dataclass
class Place:
    """A matrix server: roles and members as described above, #general and a few objects."""

    server_id: str
    channel_id: str
    invite: str  # the owner's; unlimited, never expires
    target_role: str  # below every persona's role; the bystander holds it in some cells
    message: str = ""  # the peer's, with the peer's reaction
    owner_message: str = ""
    webhook: dict[str, str] = field(default_factory=dict)  # the owner's, in #general
    voice: str = ""  # a voice channel
    media: str = ""  # the peer's upload, shared in #general


@dataclass
class World:
    live: Live
    owner: User
    member_without: User
    non_member: User
    peer: User
    bystander: User  # a member with no role: whose nickname and roles are changed
    kickee: User  # joins again before each kick
    bannee: User  # banned or unbanned before each ban cell; never a member
    banned: User  # stays banned from every matrix server
    admin: User  # a platform administrator, in no matrix server
    with_users: dict[int, User]  # member_with, by what their role grants
    place: Place = field(init=False)

    def caller(self, persona: str, grant: int) -> User | None:
        return {
            "anonymous": None,
            "non_member": self.non_member,
            "member_without": self.member_without,
            "member_with": self.with_users[grant],
            "owner": self.owner,
            AUTHOR: self.peer,
            ADMIN: self.admin,
        }[persona]

    def build_place(self, grants: Iterable[int]) -> Place:
        live, owner = self.live, self.owner
        sid = live.create_server(owner, "matrix")
        everyone = f"/api/servers/{sid}/roles/{sid}"
        live.data(live.patch(everyone, owner, json={"permissions": str(BASELINE)}))
        # A new role goes in at position 1, under all the others: the personas' roles,
        # made first, outrank the peer's and the target role.
        roles = {
            grant: live.create_role(owner, sid, name=f"has {grant}", permissions=str(grant))["id"]
            for grant in grants
        }
        peer_role = live.create_role(owner, sid, name="peer", permissions=str(PEER))["id"]
        target = live.create_role(owner, sid, name="target")["id"]
        invite = live.post(f"/api/servers/{sid}/invites", owner, json={"maxAge": 0})
        code = live.data(invite, 201)["code"]
        for user in (self.member_without, self.peer, self.bystander):
            live.data(live.post(f"/api/invites/{code}", user))
        for grant, role in roles.items():
            live.data(live.post(f"/api/invites/{code}", self.with_users[grant]))
            live.give_role(owner, sid, self.with_users[grant].id, role)
        live.give_role(owner, sid, self.peer.id, peer_role)
        self.ban(sid, self.banned)
        channels = live.data(live.get(f"/api/servers/{sid}/channels", owner))
        general = next(c["id"] for c in channels if c["name"] == "general")
        place = Place(sid, general, code, target)
        place.message = self.peer_message(place)
        place.owner_message = send(live, owner, general, "the owner's")["id"]
        hook = live.post(f"/api/channels/{general}/webhooks", owner, json={"name": "matrix"})
        place.webhook = live.data(hook, 201)
        place.voice = channel(live, owner, sid, name="voice", type=2)["id"]
        place.media = self.peer_media(place)
        return place

    def peer_message(self, place: Place | None = None) -> str:
        """A new message of the peer's in #general, with the peer's reaction."""
        place = place or self.place
        message = send(self.live, self.peer, place.channel_id, "the peer's")["id"]
        self.react(self.peer, message, place)
        return str(message)

    def peer_media(self, place: Place | None = None) -> str:
        """A new file of the peer's, shared in #general."""
        place = place or self.place
        response = self.live.post(
            "/api/media/upload",
            self.peer,
            files={"file": ("peer.txt", b"the peer's")},
            data={"channelId": place.channel_id},
        )
        return str(self.live.data(response, 201)["id"])

    def react(self, user: User, message: str, place: Place | None = None) -> None:
        place = place or self.place
        path = f"/api/channels/{place.channel_id}/messages/{message}/reactions/{EMOJI}"
        self.live.data(self.live.put(path, user))

    def pin(self, message: str, pinned: bool) -> None:
        path = f"/api/channels/{self.place.channel_id}/pins/{message}"
        method = self.live.put if pinned else self.live.delete
        self.live.data(method(path, self.owner))

    def ban(self, server_id: str, user: User) -> None:
        response = self.live.put(f"/api/servers/{server_id}/bans/{user.id}", self.owner, json={})
        assert response.status_code in (200, 201), response.text

    def unban(self, user: User) -> None:
        response = self.live.delete(
            f"/api/servers/{self.place.server_id}/bans/{user.id}", self.owner
        )
        assert response.status_code in (200, 404), response.text  # 404: not banned

    def login(self, user: User) -> dict[str, Any]:
        body = {"email": user.email, "password": user.password}
        data: dict[str, Any] = self.live.data(self.live.post("/api/auth/login", json=body))
        return data


# --- a valid request for every route ---------------------------------------------------


class _Caller(enum.Enum):
    TOKEN = enum.auto()


CALLER_TOKEN = _Caller.TOKEN


@dataclass(frozen=True)
class Call:
    ids: dict[str, str]  # the path parameters, exactly
    json: Any = None
    params: dict[str, str] | None = None
    token: str | _Caller | None = CALLER_TOKEN  # default: the caller's access token
    files: dict[str, Any] | None = None  # sent as multipart/form-data


@dataclass(frozen=True)
class Ctx:
    w: World
    caller: User | None
    grant: int

    @property
    def live(self) -> Live:
        return self.w.live

    @property
    def sid(self) -> dict[str, str]:
        return {"server_id": self.w.place.server_id}

    @property
    def cid(self) -> dict[str, str]:
        return {"channel_id": self.w.place.channel_id}

    def on(self, message: str, **ids: str) -> dict[str, str]:
        return {**self.cid, "message_id": message, **ids}


Factory = Callable[[Ctx], Call]


def _session_token(kind: str) -> Factory:
    """logout and refresh end the session they are called with: a fresh one per cell."""

    def make(c: Ctx) -> Call:
        return Call({}, token=c.w.login(c.caller)[kind] if c.caller else None)

    return make


def _register(c: Ctx) -> Call:
    name = f"r{uuid.uuid4().hex[:10]}"
    return Call({}, json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})


def _fresh_server(c: Ctx) -> Call:
    """DELETE server and leaving: a server of the cell's own, with its persona in it."""
    return Call({"server_id": c.w.build_place([c.grant]).server_id})


def _kick(c: Ctx) -> Call:
    c.live.data(c.live.post(f"/api/invites/{c.w.place.invite}", c.w.kickee))
    return Call({**c.sid, "user_id": c.w.kickee.id})


def _take_role(c: Ctx) -> Call:
    ids = {**c.sid, "user_id": c.w.bystander.id, "role_id": c.w.place.target_role}
    c.live.give_role(c.w.owner, c.w.place.server_id, c.w.bystander.id, c.w.place.target_role)
    return Call(ids)


def _doomed_role(c: Ctx) -> Call:
    role = c.live.create_role(c.w.owner, c.w.place.server_id, name="doomed")
    return Call({**c.sid, "role_id": role["id"]})


def _ban(c: Ctx) -> Call:
    c.w.unban(c.w.bannee)
    return Call({**c.sid, "user_id": c.w.bannee.id}, json={"reason": "matrix"})


def _unban(c: Ctx) -> Call:
    c.w.ban(c.w.place.server_id, c.w.bannee)
    return Call({**c.sid, "user_id": c.w.bannee.id})


def _own_key(c: Ctx) -> Call:
    """Revoking: a key of the caller's own (anonymous callers name the owner's)."""
    holder = c.caller or c.w.owner
    key = c.live.post("/api/developer/keys", holder, json={"mode": "test"})
    return Call({"key_id": c.live.data(key, 201)["id"]})


def _join_lobby(c: Ctx) -> Call:
    """Joining changes who belongs where: a server of the cell's own to join."""
    lobby = c.live.create_server(c.w.owner, "lobby")
    invite = c.live.post(f"/api/servers/{lobby}/invites", c.w.owner, json={})
    return Call({"code": c.live.data(invite, 201)["code"]})


def _peer_invite(c: Ctx) -> Call:
    invite = c.live.post(f"/api/servers/{c.w.place.server_id}/invites", c.w.peer, json={})
    return Call({"code": c.live.data(invite, 201)["code"]})


def _doomed_channel(c: Ctx) -> Call:
    made = channel(c.live, c.w.owner, c.w.place.server_id, name="doomed")
    return Call({"channel_id": made["id"]})


OVERWRITE = {"type": 0, "allow": str(BASELINE), "deny": "0"}  # bits member_with holds


def _put_overwrite(c: Ctx) -> Call:
    return Call({**c.cid, "overwrite_id": c.w.place.target_role}, json=OVERWRITE)


def _delete_overwrite(c: Ctx) -> Call:
    place = c.w.place
    set_overwrite(c.live, c.w.owner, place.channel_id, place.target_role, allow=BASELINE)
    return Call({**c.cid, "overwrite_id": place.target_role})


def _pin(c: Ctx) -> Call:
    c.w.pin(c.w.place.message, False)
    return Call(c.on(c.w.place.message))


def _unpin(c: Ctx) -> Call:
    c.w.pin(c.w.place.message, True)
    return Call(c.on(c.w.place.message))


def _add_reaction(c: Ctx) -> Call:
    # Being first with an emoji needs ADD_REACTIONS too; joining the peer's reaction does not.
    c.w.react(c.w.peer, c.w.place.message)
    return Call(c.on(c.w.place.message, emoji=EMOJI))


def _remove_peer_reaction(c: Ctx) -> Call:
    return Call(c.on(c.w.peer_message(), emoji=EMOJI, user_id=c.w.peer.id))


def _thread(c: Ctx) -> str:
    """A new thread of the owner's in #general, which anyone who sees #general sees."""
    message = send(c.live, c.w.peer, c.w.place.channel_id, "a topic")["id"]
    path = f"/api/channels/{c.w.place.channel_id}/messages/{message}/threads"
    return str(c.live.data(c.live.post(path, c.w.owner, json={"name": "matrix"}), 201)["id"])


def _start_thread(c: Ctx) -> Call:
    """One thread per message: a fresh message of the peer's per cell."""
    message = send(c.live, c.w.peer, c.w.place.channel_id, "a topic")["id"]
    return Call(c.on(message), json={"name": "made by the matrix"})


def _doomed_webhook(c: Ctx) -> Call:
    path = f"/api/channels/{c.w.place.channel_id}/webhooks"
    hook = c.live.data(c.live.post(path, c.w.owner, json={"name": "doomed"}), 201)
    return Call({"webhook_id": hook["id"]})


def _execute_webhook(c: Ctx) -> Call:
    hook = c.w.place.webhook
    ids = {"webhook_id": hook["id"], "webhook_token": hook["token"]}
    return Call(ids, json={"content": "from the matrix"})


REQUESTS: dict[str, Factory] = {
    "POST /api/auth/register": _register,
    "POST /api/auth/login": lambda c: Call(
        {}, json={"email": c.w.bystander.email, "password": PASSWORD}
    ),
    "POST /api/auth/refresh": _session_token("refreshToken"),
    "POST /api/auth/logout": _session_token("token"),
    "GET /api/users/me": lambda c: Call({}),
    "PATCH /api/users/me": lambda c: Call({}, json={"bio": "seen by the matrix"}),
    "GET /api/users/search": lambda c: Call({}, params={"q": c.w.peer.username}),
    "GET /api/users/{user_id}": lambda c: Call({"user_id": c.w.peer.id}),
    # User-scoped: anyone signed in may search; what they find is what they may read
    # (tests/surfaces/chirp/test_search.py holds that; here the route's own gate).
    "GET /api/search/messages": lambda c: Call({}, params={"query": "hello"}),
    "GET /api/servers": lambda c: Call({}),
    "POST /api/servers": lambda c: Call({}, json={"name": "made by the matrix"}),
    "GET /api/servers/{server_id}": lambda c: Call(c.sid),
    "PATCH /api/servers/{server_id}": lambda c: Call(c.sid, json={"description": "matrix"}),
    "DELETE /api/servers/{server_id}": _fresh_server,
    "GET /api/servers/{server_id}/members": lambda c: Call(c.sid),
    "GET /api/servers/{server_id}/members/{user_id}": lambda c: Call(
        {**c.sid, "user_id": c.w.bystander.id}
    ),
    "PATCH /api/servers/{server_id}/members/{user_id}": lambda c: Call(
        {**c.sid, "user_id": c.w.bystander.id}, json={"nickname": "renamed"}
    ),
    "DELETE /api/servers/{server_id}/members/{user_id}": _kick,
    "PUT /api/servers/{server_id}/members/{user_id}/roles/{role_id}": lambda c: Call(
        {**c.sid, "user_id": c.w.bystander.id, "role_id": c.w.place.target_role}
    ),
    "DELETE /api/servers/{server_id}/members/{user_id}/roles/{role_id}": _take_role,
    "DELETE /api/users/me/servers/{server_id}": _fresh_server,
    "GET /api/servers/{server_id}/roles": lambda c: Call(c.sid),
    "POST /api/servers/{server_id}/roles": lambda c: Call(c.sid, json={"name": "made"}),
    "PATCH /api/servers/{server_id}/roles": lambda c: Call(
        c.sid, json=[{"id": c.w.place.target_role, "position": 1}]
    ),
    "PATCH /api/servers/{server_id}/roles/{role_id}": lambda c: Call(
        {**c.sid, "role_id": c.w.place.target_role}, json={"color": 0x123456}
    ),
    "DELETE /api/servers/{server_id}/roles/{role_id}": _doomed_role,
    "GET /api/servers/{server_id}/bans": lambda c: Call(c.sid),
    "GET /api/servers/{server_id}/bans/{user_id}": lambda c: Call(
        {**c.sid, "user_id": c.w.banned.id}
    ),
    "PUT /api/servers/{server_id}/bans/{user_id}": _ban,
    "DELETE /api/servers/{server_id}/bans/{user_id}": _unban,
    "POST /api/servers/{server_id}/invites": lambda c: Call(c.sid, json={}),
    "GET /api/servers/{server_id}/invites": lambda c: Call(c.sid),
    "GET /api/invites/{code}": lambda c: Call({"code": c.w.place.invite}),
    "POST /api/invites/{code}": _join_lobby,
    "DELETE /api/invites/{code}": _peer_invite,
    "GET /api/servers/{server_id}/channels": lambda c: Call(c.sid),
    "POST /api/servers/{server_id}/channels": lambda c: Call(c.sid, json={"name": "made"}),
    "GET /api/channels/{channel_id}": lambda c: Call(c.cid),
    "PATCH /api/channels/{channel_id}": lambda c: Call(c.cid, json={"topic": "matrix"}),
    "DELETE /api/channels/{channel_id}": _doomed_channel,
    "PUT /api/channels/{channel_id}/permissions/{overwrite_id}": _put_overwrite,
    "DELETE /api/channels/{channel_id}/permissions/{overwrite_id}": _delete_overwrite,
    "GET /api/users/me/channels": lambda c: Call({}),
    "POST /api/users/me/channels": lambda c: Call({}, json={"recipients": [c.w.peer.id]}),
    "GET /api/channels/{channel_id}/messages": lambda c: Call(c.cid),
    "POST /api/channels/{channel_id}/messages": lambda c: Call(c.cid, json={"content": "hi"}),
    "GET /api/channels/{channel_id}/messages/{message_id}": lambda c: Call(c.on(c.w.place.message)),
    "PATCH /api/channels/{channel_id}/messages/{message_id}": lambda c: Call(
        c.on(c.w.place.owner_message), json={"content": "edited"}
    ),
    "DELETE /api/channels/{channel_id}/messages/{message_id}": lambda c: Call(
        c.on(c.w.peer_message())
    ),
    "GET /api/channels/{channel_id}/pins": lambda c: Call(c.cid),
    "PUT /api/channels/{channel_id}/pins/{message_id}": _pin,
    "DELETE /api/channels/{channel_id}/pins/{message_id}": _unpin,
    "PUT /api/channels/{channel_id}/messages/{message_id}/reactions/{emoji}": _add_reaction,
    "DELETE /api/channels/{channel_id}/messages/{message_id}/reactions/{emoji}": lambda c: Call(
        c.on(c.w.place.message, emoji=EMOJI)
    ),
    "GET /api/channels/{channel_id}/messages/{message_id}/reactions/{emoji}": lambda c: Call(
        c.on(c.w.place.message, emoji=EMOJI)
    ),
    "DELETE /api/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}": (
        _remove_peer_reaction
    ),
    "POST /api/channels/{channel_id}/typing": lambda c: Call(c.cid),
    "POST /api/channels/{channel_id}/webhooks": lambda c: Call(c.cid, json={"name": "made"}),
    "GET /api/channels/{channel_id}/webhooks": lambda c: Call(c.cid),
    "GET /api/webhooks/{webhook_id}": lambda c: Call({"webhook_id": c.w.place.webhook["id"]}),
    "PATCH /api/webhooks/{webhook_id}": lambda c: Call(
        {"webhook_id": c.w.place.webhook["id"]}, json={"name": "renamed"}
    ),
    "DELETE /api/webhooks/{webhook_id}": _doomed_webhook,
    "POST /api/webhooks/{webhook_id}/{webhook_token}": _execute_webhook,
    "POST /api/voice/channels/{channel_id}/join": lambda c: Call({"channel_id": c.w.place.voice}),
    "POST /api/voice/channels/{channel_id}/leave": lambda c: Call({"channel_id": c.w.place.voice}),
    "GET /api/voice/channels/{channel_id}/states": lambda c: Call({"channel_id": c.w.place.voice}),
    "GET /api/admin/stats": lambda c: Call({}),
    "PATCH /api/admin/users/{user_id}": lambda c: Call(
        {"user_id": c.w.bystander.id}, json={"disabled": False}
    ),
    "GET /api/admin/audit-log": lambda c: Call({}),
    "PUT /api/admin/users/{user_id}/plan": lambda c: Call(
        {"user_id": c.w.bystander.id}, json={"plan": "free"}
    ),
    "POST /api/developer/keys": lambda c: Call({}, json={"mode": "test"}),
    "GET /api/developer/keys": lambda c: Call({}),
    "DELETE /api/developer/keys/{key_id}": _own_key,
    "GET /api/servers/{server_id}/audit-log": lambda c: Call(c.sid),
    "POST /api/channels/{channel_id}/messages/{message_id}/threads": _start_thread,
    "GET /api/channels/{channel_id}/threads/active": lambda c: Call(c.cid),
    "GET /api/channels/{channel_id}/threads/archived": lambda c: Call(c.cid),
    "GET /api/channels/{channel_id}/thread-members": lambda c: Call({"channel_id": _thread(c)}),
    "PUT /api/channels/{channel_id}/thread-members/@me": lambda c: Call({"channel_id": _thread(c)}),
    "DELETE /api/channels/{channel_id}/thread-members/@me": lambda c: Call(
        {"channel_id": _thread(c)}
    ),
    "POST /api/media/upload": lambda c: Call({}, files={"file": ("m.txt", b"matrix")}),
    "GET /api/media/{media_id}": lambda c: Call({"media_id": c.w.place.media}),
    "DELETE /api/media/{media_id}": lambda c: Call({"media_id": c.w.peer_media()}),
}


# --- the tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(live: Live) -> World:
    rules = [rule_or_reason(method, path) for method, path in ROUTES]
    grants = {rule.grant for rule in rules if isinstance(rule, Rule)}
    names = ("owner", "member_without", "non_member", "peer", "bystander", "kickee", "bannee")
    users = {name: live.register() for name in (*names, "banned")}
    users["admin"] = make_admin(live, live.register())
    world = World(live, **users, with_users={grant: live.register() for grant in sorted(grants)})
    world.place = world.build_place(sorted(grants))
    return world


def _status_class(status: int) -> str:
    return OK if 200 <= status < 300 else str(status)


def _path_names(path: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(path) if name}


def test_every_route_is_in_the_matrix() -> None:
    """The whole picture in one failure; each affected cell fails on its own as well."""
    problems = []
    for method, path in ROUTES:
        route = f"{method} {path}"
        rule = rule_or_reason(method, path)
        if isinstance(rule, str):
            problems.append(f"{route}: {rule}")
        if route not in REQUESTS:
            problems.append(f"{route}: no entry in REQUESTS")
    routes = {f"{method} {path}" for method, path in ROUTES}
    problems += [f"{key}: in REQUESTS, but no such route" for key in REQUESTS.keys() - routes]
    cells = {(cell.route, cell.persona) for cell in CELLS}
    problems += [f"{key}: in EXCEPTIONS, but no such cell" for key in EXCEPTIONS.keys() - cells]
    assert not problems, "\n".join(problems)
    assert len(routes) == len(ROUTES) > 50  # the table was read, and no route twice


def test_personas_hold_exactly_their_permissions(world: World) -> None:
    """The matrix means something only if member_without lacks what the rules name and
    member_with holds exactly one of them: read back what the server computes for each."""
    path = f"/api/servers/{world.place.server_id}"

    def held(user: User) -> int:
        return int(world.live.data(world.live.get(path, user))["permissions"])

    assert held(world.owner) == ALL_PERMISSIONS
    assert held(world.member_without) == BASELINE
    assert held(world.peer) == BASELINE | PEER
    for grant, user in world.with_users.items():
        admin = grant & Permission.ADMINISTRATOR
        assert held(user) == (ALL_PERMISSIONS if admin else BASELINE | grant), grant
    assert world.live.get(path, world.non_member).status_code == 404


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell(cell: Cell, world: World) -> None:
    rule = rule_or_reason(cell.method, cell.path)
    if isinstance(rule, str):
        pytest.fail(f"{cell.route}: {rule}", pytrace=False)
    factory = REQUESTS.get(cell.route)
    if factory is None:
        pytest.fail(f"{cell.route}: add a valid request for it to REQUESTS", pytrace=False)
    want = EXCEPTIONS.get((cell.route, cell.persona), expected(rule, cell.persona))
    caller = world.caller(cell.persona, rule.grant)
    call = factory(Ctx(world, caller, rule.grant))
    assert set(call.ids) == _path_names(cell.path), f"REQUESTS[{cell.route!r}] ids: {call.ids}"
    token = (caller.token if caller else None) if call.token is CALLER_TOKEN else call.token
    response = world.live.request(
        cell.method,
        cell.path.format_map(call.ids),
        headers={"Authorization": f"Bearer {token}"} if token else {},
        json=call.json,
        params=call.params,
        files=call.files,
    )
    got = _status_class(response.status_code)
    assert got == want, f"{cell}: expected {want}, got {response.status_code} {response.text[:300]}"
    if want == "403" and rule.permission is not None:
        # Refused for the permission the rule names, not for some other reason.
        assert rule.permission.name in response.json()["error"]["message"], response.text
