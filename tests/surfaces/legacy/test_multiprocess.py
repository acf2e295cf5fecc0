"""Spec 002's Socket.IO across two `gossip serve` processes sharing PostgreSQL and Redis.

Socket.IO delivery goes through the event bus, so a client connected to one process hears
what is said through the other, whichever surface said it. Skipped only when PostgreSQL
or Redis cannot be reached (CI has both), and says which.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.client import GatewayClient
from tests.live import REDIS_URL, postgres_database, postgres_reachable, redis_reachable
from tests.process import ServerProcess
from tests.surfaces.legacy.client import Account, Listener


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    for why in (postgres_reachable(), redis_reachable()):
        if why:
            pytest.skip(why)
    tmp: Path = tmp_path_factory.mktemp("legacy-pair")
    with contextlib.ExitStack() as stack:
        shared = {
            **os.environ,
            "GOSSIP_DATABASE_URL": stack.enter_context(postgres_database()),
            "GOSSIP_REDIS_URL": REDIS_URL,
            "GOSSIP_REDIS_PREFIX": f"gossip-test-{uuid.uuid4().hex}:",
            "GOSSIP_SECRET_KEY": "shared-" + uuid.uuid4().hex,
            "GOSSIP_ARGON2_TIME_COST": "1",
            "GOSSIP_ARGON2_MEMORY_KIB": "64",
            "GOSSIP_LEGACY_DM": "true",
            "GOSSIP_RATE_LIMIT_LEGACY_LOGIN": "1000/900",
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


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15) as client:
        yield client


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    opened: list[Listener] = []
    yield opened
    for listener in opened:
        listener.close()


def new_account(http: httpx.Client, server: ServerProcess) -> Account:
    name = f"l{uuid.uuid4().hex[:10]}"
    response = http.post(f"{server.url}/new", json={"username": name})
    assert response.status_code == 201, response.text
    return Account(response.json()["id"], name, response.json()["token"])


def open_channel(http: httpx.Client, server: ServerProcess, creator: Account, to: str) -> str:
    response = http.post(
        f"{server.url}/create-channel", headers=creator.headers, json={"to": to, "type": 1}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["channel_id"])


def listen(opened: list[Listener], server: ServerProcess, who: Account, *channels: str) -> Listener:
    listener = Listener(server.url, who.token, channels)
    opened.append(listener)
    return listener


def chirp_user(http: httpx.Client, server: ServerProcess) -> dict[str, Any]:
    name = f"c{uuid.uuid4().hex[:10]}"
    response = http.post(
        f"{server.url}/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "long password"},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return {"id": data["user"]["id"], "token": data["token"]}


class _Url:
    def __init__(self, url: str) -> None:
        self.url = url


class TestAcrossProcesses:
    def test_legacy_clients_on_two_processes_chat(
        self,
        pair: tuple[ServerProcess, ServerProcess],
        http: httpx.Client,
        listeners: list[Listener],
    ) -> None:
        one, two = pair
        alice, bob = new_account(http, one), new_account(http, two)
        on_one, on_two = listen(listeners, one, alice), listen(listeners, two, bob)
        channel = open_channel(http, one, alice, bob.id)
        assert on_two.wait_for("channelCreate") == {"channel_id": channel}

        on_two.emit("message", {"content": "from two", "channel": channel})
        sent = on_one.wait_for("message", content="from two")
        assert sent["author"]["id"] == bob.id
        on_one.emit("message", {"content": "from one", "channel": channel})
        on_two.wait_for("message", content="from one")
        on_two.emit("messageDeleted", {"channel": channel, "id": sent["id"]})
        assert on_one.wait_for("messageDeleted") == {"channel": channel, "id": sent["id"]}

    def test_chirp_and_legacy_on_different_processes(
        self,
        pair: tuple[ServerProcess, ServerProcess],
        http: httpx.Client,
        listeners: list[Listener],
    ) -> None:
        one, two = pair
        alice, carol = new_account(http, one), chirp_user(http, two)
        channel = open_channel(http, one, alice, carol["id"])
        on_one = listen(listeners, one, alice, channel)
        gateway = GatewayClient(_Url(two.url))  # type: ignore[arg-type]
        try:
            gateway.send({"type": "AUTHENTICATE", "token": carol["token"]})
            gateway.wait_for("READY")
            response = http.post(
                f"{two.url}/api/channels/{channel}/messages",
                headers={"Authorization": f"Bearer {carol['token']}"},
                json={"content": "rest on two"},
            )
            assert response.status_code == 201, response.text
            on_one.wait_for("message", content="rest on two", id=response.json()["data"]["id"])
            on_one.emit("message", {"content": "socket.io on one", "channel": channel})
            sent = on_one.wait_for("message", content="socket.io on one")
            frame = gateway.wait_for("MESSAGE_CREATE", id=sent["id"])
            assert frame["data"]["content"] == "socket.io on one"
        finally:
            gateway.close()
