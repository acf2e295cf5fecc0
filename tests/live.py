"""A real Gossip server for tests: uvicorn on a loopback port, a fresh database per run.

Tests talk to it over real HTTP with httpx, exactly as clients do. `Live` also carries
small helpers that build data through the public API (never raw SQL), so every fixture
exercises the same code paths users do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gossip.app import create_app
from gossip.cli import websocket_options
from gossip.config import Settings
from gossip.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "GOSSIP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GOSSIP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Cheap argon2 for tests: the cost parameters are the operator's choice, not behaviour.
FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 64}


def postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as exc:  # any failure means "not available here"
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc!r}"


def redis_reachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc!r}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test run; dropped afterwards."""
    import asyncpg

    name = f"gossip_test_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_url(backend: str, data_dir: Path, stack: contextlib.ExitStack) -> str:
    if backend == "postgres":
        return stack.enter_context(postgres_database())
    return f"sqlite+aiosqlite:///{data_dir / 'gossip.db'}"


class ServerThread:
    """uvicorn serving an app from a background thread, on a socket bound beforehand."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        settings = app.state.runtime.settings
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", **websocket_options(settings)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@dataclass
class User:
    id: str
    username: str
    email: str
    password: str
    token: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Live:
    backend: str
    url: str
    settings: Settings
    http: httpx.Client = field(repr=False)

    def request(
        self, method: str, path: str, user: User | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if user is not None:
            headers.setdefault("Authorization", f"Bearer {user.token}")
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, user, **kw)

    def post(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, user, **kw)

    def patch(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, user, **kw)

    def put(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, user, **kw)

    def delete(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, user, **kw)

    # --- data built through the API ------------------------------------------------------

    def register(self, username: str | None = None, *, invite: str | None = None) -> User:
        name = username or f"u{uuid.uuid4().hex[:10]}"
        email = f"{name.lower()}@example.com"
        password = "correct horse battery"
        body: dict[str, Any] = {"username": name, "email": email, "password": password}
        if invite:
            body["inviteCode"] = invite
        response = self.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        return User(data["user"]["id"], name, email, password, data["token"], data["refreshToken"])

    def data(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        body = response.json()
        assert body["success"] is True
        return body["data"]

    def create_server(self, owner: User, name: str = "Test server") -> str:
        return str(self.data(self.post("/api/servers", owner, json={"name": name}), 201)["id"])

    def join(self, user: User, server_id: str, inviter: User) -> None:
        """`user` joins through a fresh invite made by `inviter`, a member who may invite."""
        invite = self.post(f"/api/servers/{server_id}/invites", inviter, json={})
        self.data(self.post(f"/api/invites/{self.data(invite, 201)['code']}", user))

    def create_role(self, user: User, server_id: str, **fields: Any) -> dict[str, Any]:
        role: dict[str, Any] = self.data(
            self.post(f"/api/servers/{server_id}/roles", user, json=fields), 201
        )
        return role

    def give_role(self, user: User, server_id: str, member_id: str, role_id: str) -> None:
        path = f"/api/servers/{server_id}/members/{member_id}/roles/{role_id}"
        self.data(self.put(path, user))


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False, body
    return str(body["error"]["code"])


@contextlib.contextmanager
def live_server(
    backend: str, tmp: Path, *, prepare: Any = None, **overrides: Any
) -> Iterator[Live]:
    """`prepare(app)`, if given, runs before the server starts (routes of a test's own)."""
    tmp.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        values: dict[str, Any] = {
            "data_dir": tmp,
            "database_url": database_url(backend, tmp, stack),
            "secret_key": "test-secret-" + uuid.uuid4().hex,
            "rate_limit_auth": "100000/900",
            "rate_limit_auth_status": "100000/60",
            **FAST_HASHING,
        }
        values.update(overrides)
        settings = Settings(**values)
        upgrade(settings.resolved_database_url)
        app = create_app(settings)
        if prepare is not None:
            prepare(app)
        server = stack.enter_context(ServerThread(app))
        url = f"http://127.0.0.1:{server.port}"
        http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        yield Live(backend, url, settings, http)
