"""The `gossip` command: serve, worker, migrate, create-admin, set-plan."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import sys

from gossip.config import Settings


def _migrate(settings: Settings) -> None:
    from gossip.db.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def websocket_options(settings: Settings) -> dict[str, object]:
    """uvicorn's WebSocket settings for the gateway.

    The sans-I/O implementation is the lightest per connection; compression is off because
    each deflate context costs tens of kilobytes per socket; protocol pings are off because
    the gateway's own heartbeats find dead clients; frames over the cap close with 1009.
    """
    return {
        "ws": "websockets-sansio",
        "ws_max_size": settings.gateway_max_frame_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
    }


def freeze_startup_objects() -> None:
    """Keeps the garbage collector away from what startup built (modules, routes, models,
    mappers: most of the heap, alive until exit). Without this every full collection walks
    all of it: 100-250 ms pauses on this machine, seen as the worst commit→delivery times of
    bench/webhooks.py (docs/performance.md). Not in create_app: a test process that builds
    many apps would never free their cycles."""
    gc.collect()
    gc.freeze()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gossip.app import create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    _migrate(settings)
    app = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=os.environ.get("GOSSIP_LOG_LEVEL", "info").lower(),
        access_log=False,
        proxy_headers=False,
        **websocket_options(settings),
    )
    return 0


def cmd_worker(_: argparse.Namespace) -> int:
    """The webhook delivery worker alone: for deployments that run it apart from the
    HTTP servers (GOSSIP_WEBHOOK_WORKER=false on those)."""
    from gossip.app import claim_worker_id
    from gossip.hooks.worker import run_forever
    from gossip.kit import ids

    settings = Settings()
    _migrate(settings)
    ids.configure(claim_worker_id(settings))
    freeze_startup_objects()
    try:
        import uvloop  # what `gossip serve` runs on too (uvicorn picks it when installed)
    except ImportError:
        asyncio.run(run_forever(settings))
    else:
        uvloop.run(run_forever(settings))
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = Settings()
    _migrate(settings)
    print(f"database is at the latest schema: {settings.resolved_database_url.split('@')[-1]}")
    return 0


async def _create_admin(settings: Settings, email: str, username: str, password: str) -> int:
    from gossip.admin import service as admin_service
    from gossip.app import build_runtime

    runtime = build_runtime(settings)
    try:
        password_hash = runtime.passwords.hash(password)
        async with runtime.db.write_session() as session:
            user = await admin_service.do_create_admin(
                session, email=email, username=username, password_hash=password_hash
            )
            await session.commit()
        print(f"admin {user.username} ({user.email}) has id {user.id}")
        return 0
    finally:
        await runtime.db.dispose()


def cmd_create_admin(args: argparse.Namespace) -> int:
    settings = Settings()
    _migrate(settings)
    password = args.password or os.environ.get("GOSSIP_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            print("give --password or GOSSIP_ADMIN_PASSWORD", file=sys.stderr)
            return 2
        password = getpass.getpass("password: ")
    if not 8 <= len(password) <= 128:
        print("the password must be 8-128 characters", file=sys.stderr)
        return 2
    from gossip.kit.errors import GossipError

    try:
        return asyncio.run(_create_admin(settings, args.email, args.username, password))
    except GossipError as error:
        details = "; ".join(f"{d['field']} {d['message']}" for d in error.details)
        print(f"error: {error.message}{': ' + details if details else ''}", file=sys.stderr)
        return 1


async def _set_plan(settings: Settings, who: str, plan: str, daily_limit: int | None) -> int:
    from gossip.app import build_runtime
    from gossip.developer import service as developer

    runtime = build_runtime(settings)
    try:
        async with runtime.db.write_session() as session:
            user = await developer.find_user(session, who)
            data = await developer.do_set_plan(session, user, plan, daily_limit)
            await session.commit()
            # Running servers cache key contexts, plan included: this tells them at once,
            # through Redis or the data directory's epoch file (auth/cache.py has the rare
            # case that is not at once).
            await runtime.auth_cache.committed(session)
        print(
            f"{user.username} ({user.id}) is on {data['plan']}: "
            f"{data['dailyLimit']} requests/day per key"
        )
        return 0
    finally:
        await runtime.auth_cache.close()
        await runtime.db.dispose()


def cmd_set_plan(args: argparse.Namespace) -> int:
    settings = Settings()
    _migrate(settings)
    from gossip.kit.errors import GossipError

    try:
        return asyncio.run(_set_plan(settings, args.user, args.plan, args.daily_limit))
    except GossipError as error:
        details = "; ".join(f"{d['field']} {d['message']}" for d in error.details)
        print(f"error: {error.message}{': ' + details if details else ''}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="gossip", description="Gossip chat server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations and start the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=cmd_serve)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    commands.add_parser(
        "worker", help="deliver outgoing webhooks (also runs inside serve)"
    ).set_defaults(run=cmd_worker)
    admin = commands.add_parser("create-admin", help="create a platform administrator")
    admin.add_argument("--email", required=True)
    admin.add_argument("--username", required=True)
    admin.add_argument("--password", help="or GOSSIP_ADMIN_PASSWORD, or asked for")
    admin.set_defaults(run=cmd_create_admin)
    plan = commands.add_parser("set-plan", help="set an account's developer API plan")
    plan.add_argument("user", help="the account's id, username or email")
    plan.add_argument("plan", choices=["free", "pro", "scale"])
    plan.add_argument(
        "--daily-limit", type=int, help="requests per key per UTC day (scale only, required)"
    )
    plan.set_defaults(run=cmd_set_plan)
    args = parser.parse_args(argv)
    sys.exit(args.run(args))
