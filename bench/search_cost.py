"""Where a search's cost goes, counted: statements and CPU per request, in this process.

Like bench/send_cost.py, this drives the app in this process (httpx's ASGI transport, one
request at a time) so that it can count inside the server: every statement SQLAlchemy
sends, and the process's CPU per request (client and app; on PostgreSQL not the
database's backend, which is another process). The baseline is
`GET /api/channels/{#general}/messages?limit=25` driven the same way in the same run.

The data is the world of bench/search.py: a fresh one of `--messages` rows (bench.search's
generator and seeding), or with `--existing URL` a PostgreSQL database that
`python -m bench.search --keep` left behind (a million rows; its reader logs in again).

    .venv/bin/python -m bench.search_cost [--messages 100000] [--database-url URL]
    .venv/bin/python -m bench.search_cost --existing postgresql+asyncpg://.../gossip_bench_x
    .venv/bin/python -m bench.search_cost --profile 40    # cProfile's top 40 to stderr

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

COUNTS = {"statements": 0}
PASSWORD = "bench-password-1"  # bench/messages.py's set_up


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_: Any) -> None:
    COUNTS["statements"] += 1


def _path(words: Sequence[str], channel_id: int | None) -> str:
    params: dict[str, Any] = {"query": " ".join(words)}
    if channel_id is not None:
        params["channelId"] = channel_id
    return "/api/search/messages?" + urlencode(params)


async def _per_request(
    client: httpx.AsyncClient, paths: Sequence[str], n: int, headers: dict[str, str]
) -> dict[str, float]:
    """CPU, wall time and statements per request, over `n` requests cycling `paths`."""
    COUNTS["statements"] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        response = await client.get(paths[i % len(paths)], headers=headers)
        assert response.status_code == 200, response.text
    return {
        "cpu_ms": round(1000 * (time.process_time() - cpu) / n, 3),
        "wall_ms": round(1000 * (time.perf_counter() - wall) / n, 3),
        "statements": round(COUNTS["statements"] / n, 2),
    }


async def _fresh_world(client: httpx.AsyncClient) -> dict[str, Any]:
    """bench/search.py's setup, through this process's app: owner, reader, ten channels,
    the last hidden from the reader by an overwrite."""
    from gossip.kit.permissions import Permission

    async def call(method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.request(method, "/api" + path, headers=headers, json=body)
        assert response.status_code < 300, response.text
        return response.json()["data"]

    users = []
    for i in range(2):
        data = await call(
            "POST",
            "/auth/register",
            body={"username": f"cost{i}", "email": f"cost{i}@example.com", "password": PASSWORD},
        )
        users.append((data["token"], int(data["user"]["id"])))
    (owner, owner_id), (reader, reader_id) = users
    server_id = int((await call("POST", "/servers", owner, {"name": "Bench"}))["id"])
    general = int((await call("GET", f"/servers/{server_id}/channels", owner))[0]["id"])
    channels = [general]
    for i in range(1, 10):
        made = await call("POST", f"/servers/{server_id}/channels", owner, {"name": f"r{i}"})
        channels.append(int(made["id"]))
    invite = await call("POST", f"/servers/{server_id}/invites", owner, {})
    await call("POST", f"/invites/{invite['code']}", reader)
    await call(
        "PUT",
        f"/channels/{channels[-1]}/permissions/{server_id}",
        owner,
        {"type": 0, "allow": "0", "deny": str(int(Permission.VIEW_CHANNEL))},
    )
    return {
        "owner": owner,
        "reader": reader,
        "user_ids": [owner_id, reader_id],
        "server_id": server_id,
        "channels": channels,
    }


async def _existing_world(app: Any) -> dict[str, Any]:
    """The reader and #general of a database bench.search seeded (`--keep`)."""
    async with app.state.runtime.db.read_session() as session:
        email = (
            await session.execute(
                text("SELECT email FROM users WHERE username LIKE 'bench%u1' ORDER BY id LIMIT 1")
            )
        ).scalar_one()
        general = (
            await session.execute(
                text("SELECT id FROM channels ORDER BY message_count DESC LIMIT 1")
            )
        ).scalar_one()
    return {"email": email, "general": int(general)}


async def measure(
    app: Any, reader: str, general: int, n: int, profile: int, kinds_measured: Sequence[str]
) -> dict[str, Any]:
    from bench.search import queries, vocabulary

    kinds = queries(vocabulary())
    headers = {"Authorization": f"Bearer {reader}"}
    figures: dict[str, Any] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gossip") as client:
        read = [f"/api/channels/{general}/messages?limit=25"]
        await _per_request(client, read, 20, headers)  # warm-up
        figures["read"] = await _per_request(client, read, n, headers)
        profiler = cProfile.Profile() if profile else None
        for kind in kinds_measured:
            for scope, channel_id in (("all", None), ("channel", general)):
                paths = [_path(words, channel_id) for words in kinds[kind]]
                await _per_request(client, paths, 20, headers)
                if profiler is not None:
                    profiler.enable()
                figures[f"{kind}_{scope}"] = await _per_request(client, paths, n, headers)
                if profiler is not None:
                    profiler.disable()
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
        print(out.getvalue(), file=sys.stderr)
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.messages import seed_ids, seed_postgres, seed_sqlite
    from bench.search import World, generate
    from gossip.app import create_app
    from gossip.config import Settings
    from gossip.db.migrate import upgrade

    settings = Settings()
    url = settings.resolved_database_url
    upgrade(url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if args.existing:
            found = await _existing_world(app)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gossip") as client:
                logged = await client.post(
                    "/api/auth/login", json={"email": found["email"], "password": PASSWORD}
                )
                assert logged.status_code == 200, logged.text
            reader, general = logged.json()["data"]["token"], found["general"]
        else:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gossip") as client:
                world = await _fresh_world(client)
            reader, general = world["reader"], world["channels"][0]
    if not args.existing:
        w = World(
            world["owner"],
            reader,
            world["user_ids"],
            world["server_id"],
            general,
            world["channels"],
            world["channels"][-1],
        )
        start_ms, count = seed_ids(args.messages)
        rows = generate(w, start_ms, count, 1, {})
        if url.startswith("postgresql"):
            await seed_postgres(url, general, w.user_ids, start_ms, count, rows)
        else:
            path = Path(url.split("///", 1)[1])
            await asyncio.to_thread(seed_sqlite, path, general, w.user_ids, start_ms, count, rows)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        figures = await measure(
            app, reader, general, args.searches, args.profile, args.kinds.split(",")
        )
    return {
        "bench": "search_cost",
        "database": url.split(":")[0],
        "messages": None if args.existing else args.messages,
        "requests_per_kind": args.searches,
        **figures,
        "loadavg_1m": os.getloadavg()[0],
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="rows seeded (fresh)")
    parser.add_argument("--searches", type=int, default=200, help="requests per kind")
    parser.add_argument("--database-url", help="a PostgreSQL server for a fresh database")
    parser.add_argument("--existing", help="a database bench.search --keep left (PostgreSQL)")
    parser.add_argument(
        "--kinds", default="absent,rare,mid,common,common_pair", help="query kinds measured"
    )
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N")
    args = parser.parse_args()
    os.environ.update(
        GOSSIP_DATA_DIR=tempfile.mkdtemp(prefix="gossip-search-cost-"),
        GOSSIP_RATE_LIMITS="false",
        GOSSIP_ARGON2_TIME_COST="1",
        GOSSIP_ARGON2_MEMORY_KIB="64",
        GOSSIP_LOG_LEVEL="warning",
    )
    with contextlib.ExitStack() as stack:
        if args.existing:
            os.environ["GOSSIP_DATABASE_URL"] = args.existing
        elif args.database_url:
            from bench.messages import postgres_database

            os.environ["GOSSIP_DATABASE_URL"] = stack.enter_context(
                postgres_database(args.database_url)
            )
        print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
