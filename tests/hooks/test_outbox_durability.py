"""kill -9 mid-queue loses no webhook: the outbox commits with the change, and a delivery
leased by a killed worker comes due again. Delivery is at least once, and a delivery that
arrives twice carries the same webhook-id both times.

`gossip serve` runs as a child process (tests/process.py); it is SIGKILLed while its
worker is still draining a queue to a slow local receiver; then the server comes back with
its worker off, and `gossip worker`, run on its own, drains the rest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.hooks.receiver import Receiver, running
from tests.process import ServerProcess
from tests.test_durability import database_env, server_env

MESSAGES = 100
ENDPOINTS = 4


def _ok(response: httpx.Response, status: int = 200) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return dict(response.json())


@pytest.mark.timeout(240)
def test_kill_9_mid_queue_loses_no_delivery(backend: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    servers: list[ServerProcess] = []
    worker: subprocess.Popen[bytes] | None = None
    with database_env(backend) as db_env, running(Receiver(delay=0.1)) as receiver:
        env = server_env(
            tmp_path / "data",
            {
                **db_env,
                "GOSSIP_WEBHOOK_ALLOW_PRIVATE": "true",
                "GOSSIP_WEBHOOK_CONCURRENCY": "8",
                "GOSSIP_WEBHOOK_LEASE": "3",
                "GOSSIP_WEBHOOK_POLL_INTERVAL": "0.1",
            },
        )
        try:
            first = ServerProcess(env, tmp_path / "server.log")
            servers.append(first)
            first.start()
            with httpx.Client(base_url=first.url, timeout=30) as http:
                account = {
                    "username": f"hook{tag}",
                    "email": f"hook{tag}@example.com",
                    "password": "correct horse battery",
                }
                token = _ok(http.post("/api/auth/register", json=account), 201)["data"]["token"]
                http.headers["Authorization"] = f"Bearer {token}"
                server = _ok(http.post("/api/servers", json={"name": "hooks"}), 201)["data"]
                channels = _ok(http.get(f"/api/servers/{server['id']}/channels"))["data"]
                channel_id = channels[0]["id"]
                key = _ok(http.post("/api/developer/keys", json={"mode": "live"}), 201)["data"]
                paths = [f"/kill-{i}" for i in range(ENDPOINTS)]
                for where in paths:
                    _ok(
                        http.post(
                            "/v1/webhooks",
                            headers={"Authorization": f"Bearer {key['secret']}"},
                            json={"url": receiver.url(where), "events": ["message.created"]},
                        ),
                        201,
                    )
                sent: list[str] = []
                for n in range(MESSAGES):
                    answer = http.post(
                        f"/api/channels/{channel_id}/messages", json={"content": f"m{n}"}
                    )
                    sent.append(_ok(answer, 201)["data"]["id"])
            expected = MESSAGES * ENDPOINTS
            # Mid-queue: some delivered, most still waiting in the outbox.
            deadline = time.monotonic() + 30
            while len(receiver.received) < 40 and time.monotonic() < deadline:
                time.sleep(0.01)
            first.kill9()
            before_kill = len(receiver.received)
            assert 0 < before_kill < expected, f"not mid-queue: {before_kill}/{expected}"

            second = ServerProcess(
                {**env, "GOSSIP_WEBHOOK_WORKER": "false"}, tmp_path / "server.log"
            )
            servers.append(second)
            second.start()
            time.sleep(0.5)
            # The server alone sends nothing now: its worker is switched off.
            assert len(receiver.received) == before_kill
            with (tmp_path / "worker.log").open("ab") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "gossip", "worker"],
                    env={**env, "GOSSIP_WEBHOOK_WORKER": "false"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )

            def pairs() -> dict[tuple[str, str], set[str]]:
                found: dict[tuple[str, str], set[str]] = {}
                with receiver.lock:
                    got = list(receiver.received)
                for item in got:
                    message = json.loads(item.body)["data"]["id"]
                    found.setdefault((item.path, message), set()).add(item.headers["webhook-id"])
                return found

            want = {(where, m) for where in paths for m in sent}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not want <= set(pairs()):
                time.sleep(0.1)
            found = pairs()
            missing = want - set(found)
            assert not missing, f"{len(missing)} of {expected} deliveries never arrived"
            # At least once, and a repeat carries the webhook-id of the first.
            assert all(len(webhook_ids) == 1 for webhook_ids in found.values())
            assert len({next(iter(v)) for v in found.values()}) == expected
        except BaseException:
            if servers:
                sys.stderr.write(servers[0].log_tail() + "\n")
            raise
        finally:
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=15)
            for proc in servers:
                proc.stop()
