"""Developer API benchmark (issue 5): what key authentication and metering cost a /v1 read.

Starts `gossip serve` as users do, registers one account, makes it a Scale account (with
`gossip set-plan`, so the daily cap is never reached) and gives it a live API key. Then,
from this process, it alternates two closed-loop loads over keep-alive connections:

  jwt  GET /api/users/me              with the account's access token (Chirp's JWT auth:
                                      one session+user query, one user read)
  key  GET /v1/profiles/<username>    with the live key (the key cache, or its lookup
                                      query; one user read; then the meter: one write,
                                      shared by the requests waiting, that admits the
                                      request against the cap and records its usage)

Both answer the same account's profile. `--rounds` alternates the two windows and pools
them, so a neighbour's load falls on both alike. The figure is `key_cost_vs_jwt`: the
mean time per request of the key load over the JWT load (= jwt_rps / key_rps at the same
concurrency). **Target: <= 1.15.** Afterwards `GET /v1/usage` reports what was metered
(`metered_requests`, warm-ups included, so at least `key_requests_in_windows`): the meter ran.

    .venv/bin/python -m bench.developer                      # SQLite
    .venv/bin/python -m bench.developer --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, profile
from bench.messages import (
    HOST,
    Api,
    BenchError,
    Measured,
    Process,
    free_port,
    gossip_argv,
    gossip_env,
    log,
    measure,
    postgres_database,
    profiled,
)


def set_plan(env: dict[str, str], username: str) -> None:
    argv = [*gossip_argv()[:-1], "set-plan", username, "scale", "--daily-limit", "1000000000"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise BenchError(f"gossip set-plan failed: {done.stderr}")


def run(args: argparse.Namespace, work: Path, database_url: str | None) -> dict[str, Any]:
    port = free_port()
    load_before = os.getloadavg()[0]
    env = gossip_env(work / "data", port, database_url)
    server = Process("gossip", gossip_argv(), env, port, work)
    figures: dict[str, Any] = {"bench": "developer"}
    try:
        server.wait_ready()
        api = Api(port)
        name = f"bench{uuid.uuid4().hex[:8]}"
        registered = api.data(
            "POST",
            "/auth/register",
            body={"username": name, "email": f"{name}@example.com", "password": "bench pass 1"},
        )
        token = registered["token"]
        set_plan(env, name)
        secret = api.data("POST", "/developer/keys", token, {"mode": "live"})["secret"]
        api.close()
        jwt = loadgen.build_request("GET", "/api/users/me", port=port, token=token)
        key = loadgen.build_request("GET", f"/v1/profiles/{name}", port=port, token=secret)
        with httpx.Client(base_url=f"http://{HOST}:{port}") as http:
            for path, credential in (("/api/users/me", token), (f"/v1/profiles/{name}", secret)):
                answer = http.get(path, headers={"Authorization": f"Bearer {credential}"})
                if answer.status_code != 200:
                    raise BenchError(f"GET {path} answered {answer.status_code}: {answer.text}")
        jwt_rounds: list[Measured] = []
        key_rounds: list[Measured] = []
        for i in range(args.rounds):
            log(f"round {i + 1}/{args.rounds}: jwt, then key")
            for phase, request, into in (("jwt", jwt, jwt_rounds), ("key", key, key_rounds)):
                profile_to = profiled(args, f"{phase}-{i + 1}")
                into.append(
                    measure(
                        server, [[request]] * args.clients, args.warmup, args.duration, profile_to
                    )
                )
        jwt_m, key_m = Measured.merge(jwt_rounds), Measured.merge(key_rounds)
        with httpx.Client(base_url=f"http://{HOST}:{port}") as http:
            usage = http.get("/v1/usage", headers={"Authorization": f"Bearer {secret}"}).json()
        metered = sum(day["requests"] for day in usage["items"])
        key_answered = key_m.result.statuses.get(200, 0) + 1  # + the check above
        jwt_rps = jwt_m.result.rps(200)
        key_rps = key_m.result.rps(200)
        figures.update(
            {
                "jwt_rps": round(jwt_rps, 1),
                "jwt_p50_ms": round(jwt_m.result.percentile_ms(50), 3),
                "jwt_p99_ms": round(jwt_m.result.percentile_ms(99), 3),
                "key_rps": round(key_rps, 1),
                "key_p50_ms": round(key_m.result.percentile_ms(50), 3),
                "key_p99_ms": round(key_m.result.percentile_ms(99), 3),
                "key_cost_vs_jwt": round(jwt_rps / key_rps, 3) if key_rps else None,
                "jwt_errors": jwt_m.result.errors + jwt_m.result.completed - jwt_m.ok(200),
                "key_errors": key_m.result.errors + key_m.result.completed - key_m.ok(200),
                # Every admitted key request, warm-ups included: at least the windows' count.
                "metered_requests": metered,
                "key_requests_in_windows": key_answered,
                "server_cpu_jwt": round(jwt_m.server_cpu, 3),
                "server_cpu_key": round(key_m.server_cpu, 3),
                "clients": args.clients,
                "duration_s": args.duration * args.rounds,
                "rounds": args.rounds,
                "database": "postgresql" if database_url else "sqlite",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "loadavg_1m_before": round(load_before, 2),
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
            }
        )
    finally:
        server.stop()
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.developer", description="/v1 key auth + metering vs JWT auth"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3, help="jwt/key windows alternated")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+asyncpg://…): a fresh database is made there and"
        " dropped afterwards; default SQLite",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server with py-spy in each measured window (see bench/profile.py)",
    )
    args = parser.parse_args(argv)
    if args.profile is not None and profile.py_spy() is None:
        parser.error("--profile needs py-spy: .venv/bin/pip install py-spy")
    if args.rounds < 1 or args.clients < 1:
        parser.error("--rounds and --clients must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gossip-bench-dev-"))
    try:
        with contextlib.ExitStack() as stack:
            url = (
                stack.enter_context(postgres_database(args.database_url))
                if args.database_url
                else None
            )
            figures = run(args, work, url)
    except BenchError as error:
        log(f"failed: {error}; logs in {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
