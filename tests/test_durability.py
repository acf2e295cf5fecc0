"""A message that answered 2xx survives a kill -9 of the server (DESIGN.md, Storage).

The server is started the way operators start it, `python -m gossip serve` in its own
process, so the kill is a real SIGKILL of a real process: no lifespan shutdown, no engine
dispose, no flush the test could accidentally rely on. Sixteen senders post numbered
messages with unique content while the process is killed at a random (seeded) moment; then
the server is started again on the same data and the channel is read back through the API.

Every message whose POST got a 2xx must be there exactly once, with the id the server
returned. A message whose request got no answer may or may not be there, but never twice.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import postgres_database
from tests.process import ServerProcess

SENDERS = 16
# The kill comes this many seconds (drawn from a seeded RNG) after the senders are flowing.
KILL_WINDOW = (0.5, 2.0)
# "Flowing": this many messages acknowledged. Counting from thread start instead would let
# a slow machine spend the whole window opening database connections and kill the server
# before anything was written, which tests nothing.
WARMED_UP = SENDERS
WARM_UP_TIMEOUT = 60.0
# How long a sender may take to notice the kill (it is mid-request at worst).
SEND_DEADLINE = 20.0
REQUEST_TIMEOUT = 10.0
PAGE = 100


@contextlib.contextmanager
def database_env(backend: str) -> Iterator[dict[str, str]]:
    """GOSSIP_DATABASE_URL for the backend: unset (SQLite in the data dir) or a fresh PG db."""
    if backend == "postgres":
        with postgres_database() as url:
            yield {"GOSSIP_DATABASE_URL": url}
    else:
        yield {}


def server_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    # Start from the caller's environment minus any GOSSIP_* knob (a developer's or CI's
    # GOSSIP_REDIS_URL, say), so the child runs exactly the configuration written here.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_")}
    env.update(
        {
            "GOSSIP_HOST": "127.0.0.1",
            "GOSSIP_DATA_DIR": str(data_dir),
            "GOSSIP_RATE_LIMITS": "false",
            "GOSSIP_ARGON2_TIME_COST": "1",
            "GOSSIP_ARGON2_MEMORY_KIB": "64",
            "GOSSIP_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def ok_data(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()["data"]


@dataclass
class Outcomes:
    """What the senders saw, shared between threads under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, str] = field(default_factory=dict)  # content -> id from the 2xx
    unanswered: list[str] = field(default_factory=list)  # sent, no response (the kill)
    refused: list[str] = field(default_factory=list)  # a response, but not 2xx

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def sender(
    worker: int,
    url: str,
    token: str,
    channel_id: str,
    tag: str,
    out: Outcomes,
    stop: threading.Event,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
        n = 0
        while not stop.is_set():
            content = f"durability {tag} w{worker:02d} n{n:05d}"
            n += 1
            try:
                response = http.post(
                    f"/api/channels/{channel_id}/messages", json={"content": content}
                )
            except httpx.TransportError:
                # Refused, reset or cut off mid-response: the server is gone. Whether this
                # one was committed is unknown, which the check below allows for.
                with out.lock:
                    out.unanswered.append(content)
                return
            try:
                message_id = str(response.json()["data"]["id"]) if response.is_success else None
            except (ValueError, KeyError, TypeError):
                message_id = None  # a 2xx without an id is as wrong as a 5xx
            with out.lock:
                if message_id is not None:
                    out.acked[content] = message_id
                else:
                    out.refused.append(f"{response.status_code} {content}: {response.text[:200]}")


def read_channel(url: str, token: str, channel_id: str) -> list[dict[str, Any]]:
    """Every message in the channel, paging backwards with `before` until an empty page.

    Not until a short page: a server that capped `limit` lower than asked would then look
    like one that lost messages.
    """
    headers = {"Authorization": f"Bearer {token}"}
    messages: list[dict[str, Any]] = []
    before: str | None = None
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for _ in range(10_000):  # a bound (a million messages), not an expectation
            params: dict[str, Any] = {"limit": PAGE}
            if before is not None:
                params["before"] = before
            page = ok_data(http.get(f"/api/channels/{channel_id}/messages", params=params), 200)
            if not page:
                return messages
            messages.extend(page)
            # Not relying on the page's order: the oldest id is the next cursor either way.
            oldest = str(min(int(m["id"]) for m in page))
            assert oldest != before, f"`before={before}` returned that message again"
            before = oldest
    raise AssertionError("paging did not end")


def general_channel(url: str, tag: str) -> tuple[str, str]:
    """A new user's token and the #general channel of a server they just created."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as http:
        account = {
            "username": f"dur{tag}",
            "email": f"dur{tag}@example.com",
            "password": "correct horse battery",
        }
        token = str(ok_data(http.post("/api/auth/register", json=account), 201)["token"])
        http.headers["Authorization"] = f"Bearer {token}"
        server = ok_data(http.post("/api/servers", json={"name": "durability"}), 201)
        channels = ok_data(http.get(f"/api/servers/{server['id']}/channels"), 200)
        return token, str(next(c["id"] for c in channels if c["name"] == "general"))


# Two kills per backend, at different (seeded, so reproducible) moments.
@pytest.mark.parametrize("kill", [1, 2])
@pytest.mark.timeout(180)
def test_acknowledged_messages_survive_kill_9(backend: str, kill: int, tmp_path: Path) -> None:
    seed = zlib.crc32(f"durability-{backend}-{kill}".encode())
    rng = random.Random(seed)
    kill_after = rng.uniform(*KILL_WINDOW)
    tag = uuid.uuid4().hex[:8]
    data_dir = tmp_path / "data"
    servers: list[ServerProcess] = []
    threads: list[threading.Thread] = []
    stop = threading.Event()
    out = Outcomes()
    with database_env(backend) as db_env:
        try:
            env = server_env(data_dir, db_env)
            first = ServerProcess(env, tmp_path / "server.log")
            servers.append(first)
            first.start()

            token, channel_id = general_channel(first.url, tag)
            threads = [
                threading.Thread(
                    target=sender,
                    args=(w, first.url, token, channel_id, tag, out, stop),
                    name=f"sender-{w}",
                    daemon=True,
                )
                for w in range(SENDERS)
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + WARM_UP_TIMEOUT
            while out.count() < WARMED_UP and not out.refused and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(kill_after)
            first.kill9()
            # Senders end on their first transport error; the event covers any that are
            # between requests, and the join timeout bounds the rest.
            stop.set()
            for thread in threads:
                thread.join(timeout=SEND_DEADLINE)
            assert not any(t.is_alive() for t in threads), "a sender did not stop after the kill"

            context = (
                f"backend={backend} seed={seed} kill_after={kill_after:.3f}s "
                f"acked={len(out.acked)} unanswered={len(out.unanswered)}"
            )
            assert not out.refused, f"{context}: non-2xx answers before the kill: {out.refused[:5]}"
            # Without acknowledged writes before the kill the test would prove nothing.
            assert len(out.acked) >= WARMED_UP, f"{context}: too few messages were acknowledged"

            second = ServerProcess(env, tmp_path / "server.log")
            servers.append(second)
            second.start()
            listed = read_channel(second.url, token, channel_id)

        except BaseException:
            # Attach the server's own account of what happened to any failure.
            if servers:  # both processes write to one log
                sys.stderr.write(servers[0].log_tail() + "\n")
            raise
        finally:
            # Before the database is dropped, and whatever happened above.
            stop.set()
            for proc in servers:
                proc.stop()

        ids_by_content: dict[str, list[str]] = {}
        for message in listed:
            ids_by_content.setdefault(message["content"], []).append(str(message["id"]))
        all_ids = [str(m["id"]) for m in listed]
        assert len(all_ids) == len(set(all_ids)), f"{context}: a message id is listed twice"
        lost = sorted(c for c in out.acked if c not in ids_by_content)
        assert not lost, f"{context}: {len(lost)} acknowledged messages lost, e.g. {lost[:5]}"
        doubled = {c: ids for c, ids in ids_by_content.items() if len(ids) > 1}
        assert not doubled, f"{context}: messages stored twice: {list(doubled.items())[:5]}"
        changed = {
            c: (i, ids_by_content[c][0]) for c, i in out.acked.items() if ids_by_content[c] != [i]
        }
        assert not changed, f"{context}: ids differ (acked, stored): {list(changed.items())[:5]}"
        ours = [c for c in ids_by_content if c.startswith(f"durability {tag} ")]
        # Everything stored was either acknowledged or cut off by the kill, nothing else.
        unexpected = set(ours) - set(out.acked) - set(out.unanswered)
        assert not unexpected, f"{context}: messages nobody sent: {sorted(unexpected)[:5]}"
        survivors = sum(1 for c in out.unanswered if c in ids_by_content)
        # Shown with `pytest -s`/`-rP`: how much the run exercised.
        print(f"{context} unanswered_but_stored={survivors} listed={len(listed)}")
