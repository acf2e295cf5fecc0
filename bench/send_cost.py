"""Where a message send's cost goes, counted: statements, SQLite thread hand-offs, CPU.

Unlike bench.messages this drives the app in this process (httpx's ASGI transport, one
request at a time), because it counts inside the server: every statement SQLAlchemy sends
and, on SQLite, every call aiosqlite hands to its connection's thread (each wakes the
event loop). CPU per request covers client and app alike; the baseline is bench/baseline.py's
bare Starlette endpoint driven the same way in the same run, so the ratio is the
comparable figure on a shared machine. Prints one JSON line.

    .venv/bin/python -m bench.send_cost [--sends 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from typing import Any

import aiosqlite
import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

COUNTS = {"statements": 0, "handoffs": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_: Any) -> None:
    COUNTS["statements"] += 1


_handoff = aiosqlite.Connection._execute


async def _counted_handoff(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
    COUNTS["handoffs"] += 1
    return await _handoff(self, fn, *args, **kwargs)


aiosqlite.Connection._execute = _counted_handoff  # type: ignore[method-assign]


async def _cpu_per_request(client: httpx.AsyncClient, path: str, n: int, **kw: Any) -> float:
    started = time.process_time()
    for i in range(n):
        response = await client.post(path, json={"content": f"hello {i}"}, **kw)
        assert response.status_code == 201, response.text
    return 1000 * (time.process_time() - started) / n


def fastapi_floor() -> Any:
    """The same send shape as a bare FastAPI route: a validated JSON body, a bearer-token
    dependency and an orjson answer; no database, no auth check. What any FastAPI route
    of this kind costs before it does anything."""
    from fastapi import Depends, FastAPI
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from pydantic import BaseModel

    from gossip.surfaces.chirp.envelope import ok

    app = FastAPI()
    bearer = HTTPBearer(auto_error=False)

    class Body(BaseModel):
        content: str = ""
        tts: bool = False

    @app.post("/api/channels/{channel_id}/messages", status_code=201)
    async def send(
        channel_id: str,
        body: Body,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Any:
        return ok({"id": "1", "channelId": channel_id, "content": body.content}, status=201)

    return app


async def _bare_cpu(app: Any, sends: int, **kw: Any) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
        path = "/api/channels/1/messages"
        await _cpu_per_request(client, path, 50, **kw)
        return await _cpu_per_request(client, path, sends, **kw)


async def run(sends: int) -> dict[str, Any]:
    from bench.baseline import app as baseline_app
    from gossip.app import create_app
    from gossip.config import Settings
    from gossip.db.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gossip") as client:
            registered = await client.post(
                "/api/auth/register",
                json={"username": "sender", "email": "s@example.com", "password": "long password"},
            )
            headers = {"Authorization": f"Bearer {registered.json()['data']['token']}"}
            server = await client.post("/api/servers", headers=headers, json={"name": "Bench"})
            server_id = server.json()["data"]["id"]
            channels = await client.get(f"/api/servers/{server_id}/channels", headers=headers)
            path = f"/api/channels/{channels.json()['data'][0]['id']}/messages"
            await _cpu_per_request(client, path, 50, headers=headers)  # warm-up
            COUNTS.update(statements=0, handoffs=0)
            send_cpu = await _cpu_per_request(client, path, sends, headers=headers)
            statements, handoffs = COUNTS["statements"] / sends, COUNTS["handoffs"] / sends
    baseline_cpu = await _bare_cpu(baseline_app, sends)
    floor_cpu = await _bare_cpu(fastapi_floor(), sends, headers=headers)
    return {
        "bench": "send_cost",
        "database": settings.resolved_database_url.split(":")[0],
        "sends": sends,
        "statements_per_send": round(statements, 2),
        "thread_handoffs_per_send": round(handoffs, 2),
        "send_cpu_ms": round(send_cpu, 3),
        "baseline_cpu_ms": round(baseline_cpu, 3),
        "baseline_cpu_vs_send": round(baseline_cpu / send_cpu, 3),
        "fastapi_floor_cpu_ms": round(floor_cpu, 3),
        "loadavg_1m": os.getloadavg()[0],
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    os.environ.update(
        GOSSIP_DATA_DIR=tempfile.mkdtemp(prefix="gossip-send-cost-"),
        GOSSIP_RATE_LIMITS="false",
        GOSSIP_ARGON2_TIME_COST="1",
        GOSSIP_ARGON2_MEMORY_KIB="64",
    )
    if args.database_url:
        os.environ["GOSSIP_DATABASE_URL"] = args.database_url
    print(json.dumps(asyncio.run(run(args.sends))))


if __name__ == "__main__":
    main()
