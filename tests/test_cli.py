"""The `gossip` command as operators run it: a real subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from gossip.db.engine import connect
from gossip.users import repository as users
from tests.live import live_server


def gossip(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gossip", *args],
        env={
            **os.environ,
            "GOSSIP_DATA_DIR": str(data_dir),
            "GOSSIP_ARGON2_TIME_COST": "1",
            "GOSSIP_ARGON2_MEMORY_KIB": "64",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def is_admin(db_url: str, email: str) -> bool:
    async def read() -> bool:
        database = connect(db_url)
        try:
            async with database.read_session() as session:
                user = await users.by_email(session, email)
                return bool(user and user.is_admin)
        finally:
            await database.dispose()

    return asyncio.run(read())


class TestMigrate:
    def test_creates_the_database_and_is_idempotent(self, tmp_path: Path) -> None:
        for _ in range(2):
            result = gossip("migrate", data_dir=tmp_path)
            assert result.returncode == 0, result.stderr
        assert (tmp_path / "gossip.db").exists()


class TestCreateAdmin:
    def test_creates_an_admin_who_can_log_in(self, tmp_path: Path) -> None:
        result = gossip(
            "create-admin",
            "--email",
            "root@example.com",
            "--username",
            "root",
            data_dir=tmp_path,
            GOSSIP_ADMIN_PASSWORD="admin password",
        )
        assert result.returncode == 0, result.stderr
        assert "root@example.com" in result.stdout
        url = f"sqlite+aiosqlite:///{tmp_path / 'gossip.db'}"
        assert is_admin(url, "root@example.com")
        with live_server("sqlite", tmp_path, secret_key=None) as live:
            login = live.post(
                "/api/auth/login",
                json={"email": "root@example.com", "password": "admin password"},
            )
            assert login.status_code == 200

    def test_promotes_an_existing_account(self, tmp_path: Path) -> None:
        with live_server("sqlite", tmp_path) as live:
            user = live.register()
        url = f"sqlite+aiosqlite:///{tmp_path / 'gossip.db'}"
        assert not is_admin(url, user.email)
        result = gossip(
            "create-admin",
            "--email",
            user.email,
            "--username",
            "ignored",
            "--password",
            "whatever1",
            data_dir=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert is_admin(url, user.email)

    def test_refuses_a_short_password_and_a_bad_username(self, tmp_path: Path) -> None:
        short = gossip(
            "create-admin",
            "--email",
            "a@example.com",
            "--username",
            "abc",
            "--password",
            "x",
            data_dir=tmp_path,
        )
        assert short.returncode == 2 and "8-128" in short.stderr
        bad = gossip(
            "create-admin",
            "--email",
            "a@example.com",
            "--username",
            "a",
            "--password",
            "long enough",
            data_dir=tmp_path,
        )
        assert bad.returncode == 1 and "username" in bad.stderr
        assert "Traceback" not in bad.stderr


class TestSetPlan:
    def test_sets_the_plan_the_v1_surface_then_applies(self, tmp_path: Path) -> None:
        with live_server("sqlite", tmp_path / "live") as live:
            user = live.register()
            secret = live.data(live.post("/api/developer/keys", user, json={"mode": "live"}), 201)[
                "secret"
            ]
            url = live.settings.resolved_database_url
            data_dir = live.settings.data_dir
            result = gossip(
                "set-plan",
                user.username,
                "scale",
                "--daily-limit",
                "7",
                data_dir=data_dir,
                GOSSIP_DATABASE_URL=url,
            )
            assert result.returncode == 0, result.stderr
            assert "scale: 7 requests/day" in result.stdout
            answer = live.http.get("/v1/pricing", headers={"Authorization": f"Bearer {secret}"})
            assert answer.headers["X-RateLimit-Limit"] == "7"
            by_email = gossip(
                "set-plan", user.email, "pro", data_dir=data_dir, GOSSIP_DATABASE_URL=url
            )
            assert by_email.returncode == 0, by_email.stderr
            answer = live.http.get("/v1/pricing", headers={"Authorization": f"Bearer {secret}"})
            assert answer.headers["X-RateLimit-Limit"] == "100000"
            for args in (
                ("nobody-here", "pro"),
                (user.username, "scale"),  # scale needs its limit
                (user.username, "pro", "--daily-limit", "5"),
            ):
                refused = gossip("set-plan", *args, data_dir=data_dir, GOSSIP_DATABASE_URL=url)
                assert refused.returncode == 1 and "error:" in refused.stderr, refused
            assert gossip("set-plan", user.username, "gold", data_dir=data_dir).returncode == 2
