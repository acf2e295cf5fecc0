"""The `/api` surface against its own OpenAPI document, with schemathesis, on both backends.

For every operation in `/openapi.json`, generated requests (valid and invalid) are sent to a
real server over HTTP and every response must:
  - not be a 5xx (not_a_server_error);
  - have a status the operation documents (status_code_conformance), which is what keeps
    each route's `responses=error_responses(...)` honest;
  - have the documented content type and a body valid against the documented schema
    (content_type_conformance, response_schema_conformance), and documented headers
    (response_headers_conformance).

Two passes per operation: a seeded, derandomized fuzzing pass where Hypothesis also picks
who is asking (owner, plain member, outsider, a disabled account, no token, a bad token, or
whatever Authorization schemathesis generated) and whether the path and body name real
objects; and schemathesis' coverage pass (boundary and invalid values, missing fields,
wrong methods), sent as the owner against real objects wherever the case is meant valid.

Real objects: a world built through the API (a server with the member in it and the
outsider banned, a role, an invite, #general with an overwrite and a message with
reactions). Random ids alone would only ever test the 404 path. Requests that remove what
they name or change who belongs where get a server of their own (deleted afterwards), so
later cases still find the shared one as described.

`test_every_operation_documents_the_statuses_it_shares_with_all` adds the statuses no
generated request reaches here (429 with rate limits off, 413), read from the document.

The document is read from the app at collection time (schemathesis' lazy pytest loader does
not work with pytest 9: it writes `Function._nodeid`, which pytest 9 no longer has), and
`test_served_document_is_the_one_under_test` holds the running server to that same document.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation

from gossip.app import create_app
from gossip.config import Settings
from gossip.db.engine import connect
from gossip.developer import repository as developer_repository
from gossip.users import repository as users_repository
from tests.live import Live, User, live_server
from tests.surfaces.chirp.admins import make_admin

# Fixed, so a failure in CI reproduces locally; derandomized generation makes the seed the
# only source of the cases (no example database either).
SEED = 20_240_601
# Per operation and backend, fuzzing pass; the coverage pass adds its own bounded set.
MAX_EXAMPLES = 25
REQUEST_TIMEOUT = 30

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Who is asking. "owner" is listed more than once so most cases reach the success paths;
# it is first because Hypothesis shrinks towards the first element. "disabled" holds a
# valid token of a disabled account: every authenticated route may answer it 403.
# "as_generated" sends the Authorization header schemathesis made up (or none).
ACTORS = (
    "owner",
    "owner",
    "member",
    "owner",
    "outsider",
    "disabled",
    "anonymous",
    "bad_token",
    "as_generated",
)

# What each actor without a usable session must get from every authenticated operation.
REFUSED = {"anonymous": 401, "bad_token": 401, "as_generated": 401, "disabled": 403}

# Operations that end the session they are called with: they get a session of their own
# (logged in just for the case), or the shared token would be revoked for every case after.
SESSION_OPERATIONS = {
    ("POST", "/api/auth/logout"): "access",
    ("POST", "/api/auth/refresh"): "refresh",
}


def _document() -> dict[str, Any]:
    # The same factory the server runs; nothing is served or migrated here.
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp), secret_key="openapi-collection"))
        return app.openapi()


DOCUMENT = _document()


def _config(*, fuzzing: bool, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # How fast Hypothesis generates on a busy CI machine is not under test.
            "suppress-health-check": ["too_slow"],
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                # The document has no examples; stateful runs are a different test.
                "examples": {"enabled": False},
                "stateful": {"enabled": False},
                "fuzzing": {"enabled": fuzzing},
                "coverage": {"enabled": coverage},
            },
        }
    )


# Two schema objects because the coverage pass cannot be combined with `given` (schemathesis
# drops it for tests that draw extra arguments), and the fuzzing pass needs `given`.
fuzz_schema = schemathesis.openapi.from_dict(DOCUMENT, config=_config(fuzzing=True, coverage=False))
coverage_schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=_config(fuzzing=False, coverage=True)
)


EMOJI = "👍"
# Path parameter keys (see `_key`) of everything `World.build` can make.
EVERYTHING = frozenset(
    {
        "serverid",
        "roleid",
        "overwriteid",
        "channelid",
        "messageid",
        "emoji",
        "mediaid",
        "webhookid",
        "webhooktoken",
    }
)


# An address outgoing webhooks accept (public). The world's worker is off: never called.
PUBLIC_HOOK = "https://93.184.215.14/hook"


def _key(name: str) -> str:
    """`server_id`, `serverId` and `serverid` name the same thing."""
    return name.replace("_", "").lower()


def reshapes_world(method: str, path: str) -> bool:
    """Requests that remove what they name, or change who belongs where.

    They get objects of their own (`World.build`), so the shared ones stay as described:
    the member stays a member, the outsider an outsider, the server, role and invite exist.
    """
    return (
        method == "DELETE"
        or (method == "PUT" and "/bans/" in path)  # a ban also removes the member
        or (method == "POST" and path == "/api/invites/{code}")  # accepting joins a server
    )


@dataclass
class World:
    """The users and objects real ids come from. Built through the API, like clients do."""

    live: Live
    owner: User  # owns every server built here
    member: User  # joined every server built here, with no role
    outsider: User  # in none of them, and banned from each (so the ban routes have one)
    disabled: User  # an account an administrator disabled after it signed in
    admin: User  # a platform administrator (gossip create-admin), in no server here
    shared: dict[str, str] = field(default_factory=dict)
    # Each user's live developer API key (/v1 takes those instead of access tokens).
    api_keys: dict[str, str] = field(default_factory=dict)
    # Per actor: a /v1 webhook, one of its deliveries and a listener (World.outgoing).
    hooks: dict[str, dict[str, str]] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    statuses: dict[tuple[str, str], Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    def build(self, needs: frozenset[str] = EVERYTHING) -> dict[str, str]:
        """A server with the member in it and the outsider banned, and what `needs` names.

        `needs` holds path parameter keys (see `_key`); the result maps keys to real ids.
        """
        live, owner, member = self.live, self.owner, self.member
        server = live.data(live.post("/api/servers", owner, json={"name": "schemathesis"}), 201)
        sid = server["id"]
        ids: dict[str, str] = {"serverid": sid}
        invite = live.data(live.post(f"/api/servers/{sid}/invites", owner, json={}), 201)
        ids["code"] = invite["code"]
        live.data(live.post(f"/api/invites/{invite['code']}", member))
        live.data(live.put(f"/api/servers/{sid}/bans/{self.outsider.id}", owner, json={}), 201)
        if needs & {"roleid", "overwriteid"}:
            role = live.post(f"/api/servers/{sid}/roles", owner, json={"name": "tester"})
            ids["roleid"] = live.data(role, 201)["id"]
        if needs & {"channelid", "messageid", "emoji", "webhookid", "webhooktoken"}:
            channels = live.data(live.get(f"/api/servers/{sid}/channels", owner))
            cid = ids["channelid"] = next(c["id"] for c in channels if c["name"] == "general")
            # A thread too: the thread-member routes name one where the others a channel.
            start = live.post(f"/api/channels/{cid}/messages", owner, json={"content": "topic"})
            path = f"/api/channels/{cid}/messages/{live.data(start, 201)['id']}/threads"
            thread = live.post(path, owner, json={"name": "schemathesis"})
            ids["threadid"] = live.data(thread, 201)["id"]
            voice = {"name": "voice", "type": 2}
            made = live.post(f"/api/servers/{sid}/channels", owner, json=voice)
            ids["voicechannelid"] = live.data(made, 201)["id"]
        if "overwriteid" in needs:
            overwrite = {"type": 0, "allow": "0", "deny": "0"}
            path = f"/api/channels/{cid}/permissions/{ids['roleid']}"
            live.data(live.put(path, owner, json=overwrite))
        if needs & {"messageid", "emoji"}:
            message = live.post(f"/api/channels/{cid}/messages", owner, json={"content": "hi"})
            mid = ids["messageid"] = live.data(message, 201)["id"]
        if needs & {"webhookid", "webhooktoken"}:
            hook = live.post(f"/api/channels/{cid}/webhooks", owner, json={"name": "fuzzed"})
            made = live.data(hook, 201)
            ids["webhookid"], ids["webhooktoken"] = made["id"], made["token"]
        if "mediaid" in needs:
            upload = live.post("/api/media/upload", owner, files={"file": ("a.txt", b"hi")})
            ids["mediaid"] = live.data(upload, 201)["id"]
        if "emoji" in needs:
            ids["emoji"] = EMOJI
            for user in (owner, member):
                live.data(live.put(f"/api/channels/{cid}/messages/{mid}/reactions/{EMOJI}", user))
        return ids

    def ids_for(self, case: Case, actor: str) -> tuple[dict[str, str], bool]:
        """Ids for this case, and whether they were built for it alone."""
        method, path = case.method.upper(), case.path
        # Only a signed-in member can change anything (the others cannot spoil shared ids),
        # and only through a method the path has (the coverage pass also tries others).
        disposable = (
            reshapes_world(method, path)
            and actor in ("owner", "member")
            and method == case.operation.method.upper()
        )
        if disposable:
            ids = self.build(frozenset(_key(name) for name in case.path_parameters or {}))
        else:
            ids = dict(self.shared)
        # Whose user id fits the path: the banned outsider for bans, the member elsewhere
        # (in every server here, and the author of a reaction on every message here).
        ids["userid"] = (self.outsider if "/bans/" in path else self.member).id
        # An overwrite targets a role (type 0) or a member (type 1), as the body says.
        body = case.body if isinstance(case.body, dict) else {}
        ids["overwriteid"] = self.member.id if body.get("type") == 1 else ids.get("roleid", "")
        ids["recipients"] = self.member.id
        if "/thread-members" in path and "threadid" in ids:
            ids["channelid"] = ids["threadid"]
        if path.startswith("/api/voice/") and "voicechannelid" in ids:
            ids["channelid"] = ids["voicechannelid"]
        ids["username"] = self.owner.username  # /v1/profiles/{username}
        ids["eventtype"] = "log"  # spec 000: an event of the key's own namespace
        if path.startswith("/v1/"):
            # A URL webhooks may use (public; never called, the worker is off here), and a
            # real event type: random ones are refused, rightly.
            ids["url"] = PUBLIC_HOOK
            ids["events"] = "message.created"
        if "{endpoint_id}" in path or "{listener_id}" in path:
            ids.update(self.outgoing("member" if actor == "member" else "owner"))
        if "{key_id}" in path:
            # A key of the caller's own to revoke (others' are 404 by design).
            holder = self.member if actor == "member" else self.owner
            made = self.live.post("/api/developer/keys", holder, json={"mode": "test"})
            ids["keyid"] = self.live.data(made, 201)["id"]
        return ids, disposable

    def outgoing(self, actor: str) -> dict[str, str]:
        """A webhook with one delivery and a spec 000 listener of `actor`'s, made once and
        again only after a case deleted them (an account may hold 50 endpoints). The URL
        is a public address; the world's worker is off, so nothing is ever sent there."""
        made = self.hooks.get(actor)
        key = self.api_keys[actor]
        auth = {"Authorization": f"Bearer {key}"}
        http = self.live.http
        if made is not None:
            alive = [
                http.get(f"/v1/webhooks/{made['endpointid']}", headers=auth).status_code,
                *(
                    200 if any(x["id"] == made["listenerid"] for x in items) else 404
                    for items in [
                        http.get("/v1/core/messages/listeners", headers=auth).json()["items"]
                    ]
                ),
            ]
            if alive == [200, 200]:
                return made
        # A clean slate: fuzzed registrations may have used up the account's 50 endpoints.
        for listed in ("/v1/webhooks", "/v1/core/messages/listeners"):
            for item in http.get(listed, headers=auth).json()["items"]:
                http.delete(f"{listed}/{item['id']}", headers=auth)
        user = {"owner": self.owner, "member": self.member}[actor]
        url = PUBLIC_HOOK
        events = [f"{user.username.lower()}:log"]
        hook = http.post("/v1/webhooks", headers=auth, json={"url": url, "events": events})
        assert hook.status_code == 201, hook.text
        endpoint_id = hook.json()["id"]
        sent = http.post("/v1/core/messages/new/log", headers=auth, json={"data": 1})
        assert sent.status_code == 200, sent.text
        log = http.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=auth)
        listener = http.post("/v1/core/messages/register/log", headers=auth, json={"url": url})
        assert listener.status_code == 201, listener.text
        made = {
            "endpointid": endpoint_id,
            "deliveryid": log.json()["items"][0]["id"],
            "listenerid": listener.json()["id"],
        }
        self.hooks[actor] = made
        return made

    def dispose(self, ids: dict[str, str]) -> None:
        """Deletes a server `build` made for one case (users may be in at most 200)."""
        response = self.live.delete(f"/api/servers/{ids['serverid']}", self.owner)
        # 404: the case itself deleted it.
        assert response.status_code in (200, 404), response.text

    def login(self, user: User) -> dict[str, Any]:
        body = {"email": user.email, "password": user.password}
        data: dict[str, Any] = self.live.data(self.live.post("/api/auth/login", json=body))
        return data

    def token(self, actor: str, operation: tuple[str, str]) -> str | None:
        if actor == "anonymous":
            return None
        if actor == "bad_token":
            return "not-a-token"
        if operation[1].startswith("/v1/"):
            return self.api_keys[actor]
        if actor == "disabled":
            # Its own tokens even for logout and refresh: it cannot log in for new ones.
            refresh = SESSION_OPERATIONS.get(operation) == "refresh"
            return self.disabled.refresh if refresh else self.disabled.token
        user = {"owner": self.owner, "member": self.member, "outsider": self.outsider}[actor]
        if actor == "owner" and operation[1].startswith("/api/admin/"):
            # Platform administration is not a server role: the signed-in persona that may
            # succeed there is an administrator account.
            user = self.admin
        if operation in SESSION_OPERATIONS:
            fresh = self.login(user)
            return str(
                fresh["refreshToken" if SESSION_OPERATIONS[operation] == "refresh" else "token"]
            )
        return user.token


def point_body_at(body: Any, ids: dict[str, str], path: str) -> Any:
    """The body with its id-valued string fields (`channelId`, a role's `id`) made real."""
    if isinstance(body, list):
        return [point_body_at(item, ids, path) for item in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for name, value in body.items():
        key = "roleid" if name == "id" and path.endswith("/roles") else _key(name)
        if isinstance(value, str) and key in ids:
            out[name] = ids[key]
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            # `recipients`: lists of ids; one real id, the rest as generated.
            out[name] = [ids[key], *value[1:]] if key in ids else value
        else:
            out[name] = point_body_at(value, ids, path)
    return out


def run(case: Case, world: World, *, actor: str, real_path: bool, real_body: bool) -> None:
    """Sends the case as `actor`, with real ids where asked, and checks the response."""
    method, path = case.method.upper(), case.path
    ids, disposable = world.ids_for(case, actor) if real_path or real_body else ({}, False)
    try:
        if real_path and case.path_parameters:
            case.path_parameters = {
                name: ids.get(_key(name), value) for name, value in case.path_parameters.items()
            }
        if real_body and case.body is not None:
            if (method, path) == ("POST", "/api/auth/login") and isinstance(case.body, dict):
                # Random credentials never log in; the success path needs real ones.
                case.body = {"email": world.owner.email, "password": world.owner.password}
            else:
                case.body = point_body_at(case.body, ids, path)
        if actor != "as_generated":
            # The persona is the only credential: a generated X-Admin-Key would be a second.
            credentials = ("authorization", "x-admin-key")
            headers = {
                k: v for k, v in (case.headers or {}).items() if k.lower() not in credentials
            }
            token = world.token(actor, (method, path))
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            case.headers = headers
        response = case.call_and_validate(
            base_url=world.live.url, session=world.session, checks=CHECKS, timeout=REQUEST_TIMEOUT
        )
    finally:
        if disposable:
            world.dispose(ids)
    operation = case.operation
    # The coverage pass also sends methods the path does not have; those are not this
    # operation's answers.
    if method != operation.method.upper():
        return
    world.statuses[(method, operation.path)][response.status_code] += 1
    # Documented is not enough for the refusals: a route that served a request without a
    # valid token, or to a disabled account, would pass every schema check. 400 and 413
    # say the request could not be read at all, which comes before knowing who sent it.
    refusal = REFUSED.get(actor)
    if refusal is not None and DOCUMENT["paths"][operation.path][method.lower()].get("security"):
        assert response.status_code in (refusal, 400, 413), (
            f"{method} {case.formatted_path} as {actor}: {response.status_code} "
            f"{response.text[:300]}"
        )


def disable_account(live: Live, user: User) -> None:
    # No API disables an account yet (the admin API is a later issue); this is the
    # repository call that API will make, as in tests/surfaces/chirp/test_disabled_accounts.
    async def run() -> None:
        database = connect(live.settings.resolved_database_url)
        try:
            async with database.write_session() as session:
                await users_repository.set_fields(session, int(user.id), disabled=True)
                await session.commit()
        finally:
            await database.dispose()

    asyncio.run(run())
    assert live.get("/api/users/me", user).status_code == 403


def unlimited_plans(live: Live, users: list[User]) -> None:
    """Scale plans with a cap these runs never reach: the daily cap is a plan's, not abuse
    protection, so GOSSIP_RATE_LIMITS=false leaves it on (docs/developer.md)."""

    async def run() -> None:
        database = connect(live.settings.resolved_database_url)
        try:
            async with database.write_session() as session:
                for user in users:
                    await developer_repository.set_plan(session, int(user.id), "scale", 10**9)
                await session.commit()
        finally:
            await database.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # A server of its own: the generated requests rename users, create servers and so on,
    # which must not leak into other tests' data; and rate limits off, because hundreds of
    # requests a minute from one user is the point here, not abuse.
    tmp = tmp_path_factory.mktemp(f"schemathesis-{backend}")
    # No webhook worker: the world's endpoints point at a public address never called.
    with live_server(backend, tmp, rate_limits=False, webhook_worker=False) as live:
        world = World(
            live=live,
            owner=live.register(f"own{uuid.uuid4().hex[:8]}"),
            member=live.register(f"mem{uuid.uuid4().hex[:8]}"),
            outsider=live.register(f"out{uuid.uuid4().hex[:8]}"),
            disabled=live.register(f"dis{uuid.uuid4().hex[:8]}"),
            admin=make_admin(live, live.register(f"adm{uuid.uuid4().hex[:8]}")),
        )
        for actor in ("owner", "member", "outsider", "disabled"):
            user = getattr(world, actor)
            made = live.post("/api/developer/keys", user, json={"mode": "live"})
            world.api_keys[actor] = live.data(made, 201)["secret"]
        disable_account(live, world.disabled)
        unlimited_plans(live, [world.owner, world.member, world.outsider])
        world.shared = world.build()
        try:
            yield world
        finally:
            with contextlib.suppress(Exception):
                world.session.close()


def test_every_operation_documents_the_statuses_it_shares_with_all() -> None:
    """Statuses that come from the shared machinery, not the route, so generated requests
    may not reach them here (rate limits are off in this run, bodies stay under the cap):
      - authenticated: 401 (no or bad token), 403 (disabled account), 429 (rate limit);
      - with a body: 400 (validation), 413 (BodyLimit middleware);
      - with a path parameter: 404 (deps.path_id refuses what is not an id).
    """
    missing: dict[str, list[int]] = {}
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            expected = set()
            if operation.get("security"):
                expected |= {401, 403, 429}
            if "requestBody" in operation:
                expected |= {400, 413}
            if "{" in path:
                expected.add(404)
            absent = sorted(expected - {int(status) for status in operation["responses"]})
            if absent:
                missing[f"{method.upper()} {path}"] = absent
    assert not missing, f"add to the route's responses=error_responses(...): {missing}"


def test_served_document_is_the_one_under_test(world: World) -> None:
    served = world.live.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def test_authenticated_operations_refuse_who_has_no_usable_session(world: World) -> None:
    """Every authenticated operation, once per way of not being signed in, on real ids.

    The fuzzing pass checks this too, but only for the actors Hypothesis happens to draw
    for an operation; here none is left to chance. No body is sent: authentication comes
    before reading it, and an unreadable one would be a 400 whoever sent it.
    """
    ids = {
        **world.shared,
        "userid": world.member.id,
        "overwriteid": world.shared["roleid"],
        "username": world.owner.username,
        "keyid": "key_1",  # refused before it is looked at
        "endpointid": "wh_1",
        "deliveryid": "msg_1",
        "listenerid": "wh_1",
        "eventtype": "log",
    }
    wrong: list[str] = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if not operation.get("security"):
                continue
            url = path.format_map({name: ids[_key(name)] for name in _path_names(path)})
            for actor, expected in REFUSED.items():
                if actor == "as_generated":
                    continue  # schemathesis' own header values: the fuzzing pass sends them
                token = world.token(actor, (method.upper(), path))
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = world.live.request(method.upper(), url, headers=headers)
                if response.status_code != expected:
                    wrong.append(f"{method.upper()} {url} as {actor}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@fuzz_schema.parametrize()
@fuzz_schema.given(actor=st.sampled_from(ACTORS), real=st.sampled_from([True, False]))
def test_fuzzed_requests_conform(case: Case, actor: str, real: bool, world: World) -> None:
    run(case, world, actor=actor, real_path=real, real_body=real)


@coverage_schema.parametrize()
def test_boundary_requests_conform(case: Case, world: World) -> None:
    # Real ids where the case is valid; where it is invalid on purpose, as generated.
    meta = case.meta
    run(
        case,
        world,
        actor="owner",
        real_path=meta is None or not meta.is_negative_at(ParameterLocation.PATH),
        real_body=meta is None or not meta.is_negative_at(ParameterLocation.BODY),
    )


def test_every_operation_succeeded_somewhere(world: World) -> None:
    """Guards the world wiring: an operation that only ever answered 4xx was not tested."""
    never = {
        f"{method} {path}": dict(counts)
        for (method, path), counts in world.statuses.items()
        if not any(200 <= status < 300 for status in counts)
    }
    assert not never, f"operations that never answered 2xx: {never}"
