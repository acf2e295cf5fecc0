"""The daily cap is one count across processes: two `gossip serve` processes on one
database (a SQLite file, or PostgreSQL) admit exactly N of 100 concurrent requests made to
both. PostgreSQL's run is skipped only when no server is reachable, and says so."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import postgres_database, postgres_reachable
from tests.process import ServerProcess


@pytest.fixture(params=["sqlite", "postgres"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, ...]]:
    with contextlib.ExitStack() as stack:
        shared = {
            **os.environ,
            "GOSSIP_SECRET_KEY": "shared-" + uuid.uuid4().hex,
            "GOSSIP_ARGON2_TIME_COST": "1",
            "GOSSIP_ARGON2_MEMORY_KIB": "64",
        }
        if request.param == "postgres":
            if why := postgres_reachable():
                pytest.skip(why)
            shared["GOSSIP_DATABASE_URL"] = stack.enter_context(postgres_database())
        else:
            # Both processes use the one SQLite file in the shared data directory.
            shared["GOSSIP_DATA_DIR"] = str(tmp_path / "data")
        servers = []
        for name in ("one", "two"):
            env = dict(shared)
            env.setdefault("GOSSIP_DATA_DIR", str(tmp_path / name))
            server = ServerProcess(env=env, log_path=tmp_path / f"{name}.log")
            stack.callback(server.stop)
            server.start()
            servers.append(server)
        yield tuple(servers)


async def _everywhere_at_once(urls: list[str], secret: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(urls))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(client.get(url, headers={"Authorization": f"Bearer {secret}"}) for url in urls)
        )


def test_two_processes_admit_exactly_the_cap(pair: tuple[ServerProcess, ...]) -> None:
    one, two = pair
    name = f"cap{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.com", "password": "correct horse 1"}
    registered = httpx.post(f"{one.url}/api/auth/register", json=body, timeout=30)
    assert registered.status_code == 201, registered.text
    token = registered.json()["data"]["token"]
    made = httpx.post(
        f"{two.url}/api/developer/keys",
        json={"mode": "live"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    secret = made.json()["data"]["secret"]
    plan = subprocess.run(
        [sys.executable, "-m", "gossip", "set-plan", name, "scale", "--daily-limit", "41"],
        env=one.env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert plan.returncode == 0, plan.stderr
    urls = [f"{server.url}/v1/profiles/{name}" for server in (one, two)] * 50
    answers = asyncio.run(_everywhere_at_once(urls, secret))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) + statuses.count(429) == 100, statuses
    assert statuses.count(200) == 41, statuses


@pytest.mark.parametrize("pair", ["sqlite"], indirect=True)
def test_a_key_revoked_on_one_is_refused_at_once_on_the_other(
    pair: tuple[ServerProcess, ...],
) -> None:
    # No Redis: the processes of one SQLite database share its data directory, and with it
    # the key cache's epoch file (auth/cache.py). (Processes sharing only a PostgreSQL
    # database need Redis for this: tests/test_multiprocess.py.)
    one, two = pair
    name = f"rev{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.com", "password": "correct horse 1"}
    registered = httpx.post(f"{one.url}/api/auth/register", json=body, timeout=30)
    assert registered.status_code == 201, registered.text
    auth = {"Authorization": f"Bearer {registered.json()['data']['token']}"}
    for here, there in ((one, two), (two, one)):
        made = httpx.post(
            f"{here.url}/api/developer/keys", json={"mode": "live"}, headers=auth, timeout=30
        )
        key = made.json()["data"]
        with_key = {"Authorization": f"Bearer {key['secret']}"}
        for server in (one, two, one, two):  # both may now remember the key
            answer = httpx.get(f"{server.url}/v1/profiles/{name}", headers=with_key, timeout=30)
            assert answer.status_code == 200, answer.text
        revoked = httpx.delete(
            f"{here.url}/api/developer/keys/{key['id']}", headers=auth, timeout=30
        )
        assert revoked.status_code == 200, revoked.text
        for server in (there, here):
            answer = httpx.get(f"{server.url}/v1/profiles/{name}", headers=with_key, timeout=30)
            assert answer.status_code == 401, answer.text
