"""Two `gossip serve` processes sharing PostgreSQL and Redis behave as one server.

Both are started as operators start them. A message sent through either reaches gateway
clients on both; typing and presence cross between them; rate limits are one budget.
This runs in CI, where PostgreSQL and Redis are always present; elsewhere it is skipped
only when one of them cannot be reached, and says which.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.client import GatewayClient
from tests.live import REDIS_URL, postgres_database, postgres_reachable, redis_reachable
from tests.process import ServerProcess

ADMIN_KEY = "admin-" + uuid.uuid4().hex


@contextlib.contextmanager
def started_pair(tmp: Path, **overrides: str) -> Iterator[tuple[ServerProcess, ...]]:
    for why in (postgres_reachable(), redis_reachable()):
        if why:
            pytest.skip(why)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        shared = {
            **os.environ,
            "GOSSIP_DATABASE_URL": url,
            "GOSSIP_REDIS_URL": REDIS_URL,
            "GOSSIP_REDIS_PREFIX": f"gossip-test-{uuid.uuid4().hex}:",
            "GOSSIP_SECRET_KEY": "shared-" + uuid.uuid4().hex,
            "GOSSIP_ARGON2_TIME_COST": "1",
            "GOSSIP_ARGON2_MEMORY_KIB": "64",
            "GOSSIP_RATE_LIMIT_AUTH_STATUS": "3/60",
            "GOSSIP_PRESENCE_OFFLINE_GRACE": "0.2",
            **overrides,
        }
        servers = []
        for name in ("one", "two"):
            server = ServerProcess(
                env={**shared, "GOSSIP_DATA_DIR": str(tmp / name)}, log_path=tmp / f"{name}.log"
            )
            stack.callback(server.stop)
            server.start()
            servers.append(server)
        yield tuple(servers)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    with started_pair(tmp_path_factory.mktemp("pair")) as servers:
        yield servers


@pytest.fixture(scope="module")
def auth_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    """A pair without tight auth limits, for tests that log in and out many times."""
    with started_pair(
        tmp_path_factory.mktemp("auth-pair"),
        GOSSIP_RATE_LIMITS="false",
        GOSSIP_ADMIN_KEY=ADMIN_KEY,
    ) as servers:
        yield servers


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15) as client:
        yield client


class Person:
    def __init__(self, http: httpx.Client, server: ServerProcess) -> None:
        name = f"p{uuid.uuid4().hex[:10]}"
        response = http.post(
            f"{server.url}/api/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": "long password"},
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        self.id, self.name, self.token = data["user"]["id"], name, data["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}


def call(
    http: httpx.Client, method: str, server: ServerProcess, path: str, who: Person, **kw: Any
) -> Any:
    response = http.request(method, f"{server.url}{path}", headers=who.headers, **kw)
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


class _Live:
    """Just enough of tests.live.Live for GatewayClient."""

    def __init__(self, server: ServerProcess) -> None:
        self.url = server.url


def gateway(server: ServerProcess, who: Person) -> GatewayClient:
    client = GatewayClient(_Live(server))  # type: ignore[arg-type]
    client.send({"type": "AUTHENTICATE", "token": who.token})
    client.wait_for("READY")
    return client


@pytest.fixture(scope="module")
def scene(
    pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
) -> tuple[Person, Person, str]:
    """Alice registered on one, Bob on two; Bob joins Alice's server through process two."""
    one, two = pair
    alice, bob = Person(http, one), Person(http, two)
    server = call(http, "POST", one, "/api/servers", alice, json={"name": "Across"})
    invite = call(http, "POST", one, f"/api/servers/{server['id']}/invites", alice, json={})
    call(http, "POST", two, f"/api/invites/{invite['code']}", bob)
    channels = call(http, "GET", two, f"/api/servers/{server['id']}/channels", bob)
    return alice, bob, channels[0]["id"]


class TestAcrossProcesses:
    def test_messages_cross_both_ways(
        self,
        pair: tuple[ServerProcess, ServerProcess],
        http: httpx.Client,
        scene: tuple[Person, Person, str],
    ) -> None:
        one, two = pair
        alice, bob, channel = scene
        on_one, on_two = gateway(one, alice), gateway(two, bob)
        sent = call(
            http, "POST", one, f"/api/channels/{channel}/messages", alice, json={"content": "hi"}
        )
        assert on_two.wait_for("MESSAGE_CREATE", id=sent["id"])["data"] == sent
        back = call(
            http, "POST", two, f"/api/channels/{channel}/messages", bob, json={"content": "yo"}
        )
        assert on_one.wait_for("MESSAGE_CREATE", id=back["id"])["data"]["content"] == "yo"
        # Each process also delivers to its own clients.
        assert on_two.wait_for("MESSAGE_CREATE", id=back["id"])["data"]["content"] == "yo"
        on_one.close()
        on_two.close()

    def test_typing_crosses(
        self,
        pair: tuple[ServerProcess, ServerProcess],
        scene: tuple[Person, Person, str],
    ) -> None:
        one, two = pair
        alice, bob, channel = scene
        watcher = gateway(one, alice)
        typist = gateway(two, bob)
        typist.send({"type": "TYPING_START", "channelId": channel})
        event = watcher.wait_for("TYPING_START", userId=bob.id)
        assert event["data"]["channelId"] == channel
        watcher.close()
        typist.close()

    def test_presence_is_one_picture(
        self,
        pair: tuple[ServerProcess, ServerProcess],
        http: httpx.Client,
        scene: tuple[Person, Person, str],
    ) -> None:
        one, two = pair
        alice, bob, _ = scene
        # Earlier tests' sockets may still be inside the offline grace period.
        deadline = time.monotonic() + 10
        while call(http, "GET", one, f"/api/users/{bob.id}", alice)["status"] != "offline":
            assert time.monotonic() < deadline, "Bob never went offline"
            time.sleep(0.1)
        watcher = gateway(one, alice)
        bob_on_two = gateway(two, bob)
        watcher.wait_for("PRESENCE_UPDATE", user={"id": bob.id, "username": bob.name})
        # Process one knows Bob is online though his socket is on process two.
        assert call(http, "GET", one, f"/api/users/{bob.id}", alice)["status"] == "online"
        bob_on_two.close()
        offline = watcher.wait_for("PRESENCE_UPDATE", user={"id": bob.id, "username": bob.name})
        assert offline["data"]["status"] == "offline"
        assert call(http, "GET", one, f"/api/users/{bob.id}", alice)["status"] == "offline"
        watcher.close()

    def test_rate_limits_are_one_budget(
        self, pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
    ) -> None:
        one, two = pair
        statuses = [
            http.post(
                f"{server.url}/api/auth/refresh", headers={"Authorization": "Bearer 1.x"}
            ).status_code
            for server in (one, two, one, two)
        ]
        assert statuses == [401, 401, 401, 429]

    def test_ids_from_both_processes_never_collide(
        self,
        pair: tuple[ServerProcess, ServerProcess],
        http: httpx.Client,
        scene: tuple[Person, Person, str],
    ) -> None:
        one, two = pair
        alice, bob, channel = scene
        ids = set()
        for i in range(20):
            for server, who in ((one, alice), (two, bob)):
                sent = call(
                    http,
                    "POST",
                    server,
                    f"/api/channels/{channel}/messages",
                    who,
                    json={"content": f"n{i}"},
                )
                ids.add(sent["id"])
        assert len(ids) == 40


class TestAuthenticationAcrossProcesses:
    """A process may remember a verified token for a few seconds (auth/cache.py): a
    revocation committed through the other process must still be refused at once."""

    def test_logout_is_refused_at_once_on_the_other_process(
        self, auth_pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
    ) -> None:
        # Each process has answered with the token (so each may remember it, auth/cache.py)
        # before the other revokes it; the very next request must be refused.
        one, two = auth_pair
        for here, there in ((one, two), (two, one)) * 3:
            who = Person(http, here)
            for server in (here, there, here, there):
                call(http, "GET", server, "/api/users/me", who)
            call(http, "POST", here, "/api/auth/logout", who)
            for server in (there, here):
                me = http.get(f"{server.url}/api/users/me", headers=who.headers)
                assert me.status_code == 401, me.text

    def test_a_disabled_account_is_refused_at_once_on_the_other_process(
        self, auth_pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
    ) -> None:
        one, two = auth_pair
        who = Person(http, one)
        for here, there in ((one, two), (two, one)) * 3:
            for server in (here, there, here, there):
                call(http, "GET", server, "/api/users/me", who)
            disable = http.patch(
                f"{here.url}/api/admin/users/{who.id}",
                headers={"X-Admin-Key": ADMIN_KEY},
                json={"disabled": True},
            )
            assert disable.status_code == 200, disable.text
            for server in (there, here):
                me = http.get(f"{server.url}/api/users/me", headers=who.headers)
                assert me.status_code == 403, me.text
                assert me.json()["error"]["code"] == "ACCOUNT_DISABLED"
            enable = http.patch(
                f"{there.url}/api/admin/users/{who.id}",
                headers={"X-Admin-Key": ADMIN_KEY},
                json={"disabled": False},
            )
            assert enable.status_code == 200, enable.text


class TestApiKeysAcrossProcesses:
    """Each process may remember an API key's context (the key cache, auth/cache.py): a
    revocation, a plan change or a disabled owner committed through the other process
    must still be seen by the very next /v1 request."""

    @staticmethod
    def profile(http: httpx.Client, server: ServerProcess, who: Person, secret: str) -> Any:
        return http.get(
            f"{server.url}/v1/profiles/{who.name}", headers={"Authorization": f"Bearer {secret}"}
        )

    def warm(
        self, http: httpx.Client, one: ServerProcess, two: ServerProcess, who: Person, secret: str
    ) -> None:
        # Both processes have answered with the key, so both may remember it.
        for server in (one, two, one, two):
            answer = self.profile(http, server, who, secret)
            assert answer.status_code == 200, answer.text

    def test_a_revoked_key_is_refused_at_once_on_the_other_process(
        self, auth_pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
    ) -> None:
        one, two = auth_pair
        who = Person(http, one)
        for here, there in ((one, two), (two, one)) * 2:
            key = call(http, "POST", here, "/api/developer/keys", who, json={"mode": "live"})
            self.warm(http, here, there, who, key["secret"])
            revoked = http.delete(f"{here.url}/api/developer/keys/{key['id']}", headers=who.headers)
            assert revoked.status_code == 200, revoked.text
            for server in (there, here):
                answer = self.profile(http, server, who, key["secret"])
                assert answer.status_code == 401, answer.text
                assert answer.json()["error"]["type"] == "authentication_error"

    def test_a_plan_change_is_seen_at_once_on_the_other_process(
        self, auth_pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
    ) -> None:
        one, two = auth_pair
        who = Person(http, one)
        secret = call(http, "POST", one, "/api/developer/keys", who, json={"mode": "live"})[
            "secret"
        ]
        for here, there, limit in ((one, two, 5000), (two, one, 7000)):
            self.warm(http, here, there, who, secret)
            changed = http.put(
                f"{here.url}/api/admin/users/{who.id}/plan",
                headers={"X-Admin-Key": ADMIN_KEY},
                json={"plan": "scale", "dailyLimit": limit},
            )
            assert changed.status_code == 200, changed.text
            for server in (there, here):
                answer = self.profile(http, server, who, secret)
                assert answer.status_code == 200, answer.text
                assert answer.headers["X-RateLimit-Limit"] == str(limit)

    def test_a_disabled_owner_is_refused_at_once_on_the_other_process(
        self, auth_pair: tuple[ServerProcess, ServerProcess], http: httpx.Client
    ) -> None:
        one, two = auth_pair
        who = Person(http, one)
        secret = call(http, "POST", one, "/api/developer/keys", who, json={"mode": "live"})[
            "secret"
        ]
        for here, there in ((one, two), (two, one)):
            self.warm(http, here, there, who, secret)
            for disabled in (True, False):
                answer = http.patch(
                    f"{here.url}/api/admin/users/{who.id}",
                    headers={"X-Admin-Key": ADMIN_KEY},
                    json={"disabled": disabled},
                )
                assert answer.status_code == 200, answer.text
                for server in (there, here):
                    answer = self.profile(http, server, who, secret)
                    assert answer.status_code == (403 if disabled else 200), answer.text
