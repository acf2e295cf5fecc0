"""Platform administrators for tests, made the way operators make them: `gossip create-admin`."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.live import Live, User


def make_admin(live: Live, user: User) -> User:
    """Promotes an account registered through the API by running the real command against
    the live server's database; its tokens then act as an administrator's."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gossip",
            "create-admin",
            "--email",
            user.email,
            "--username",
            user.username,
        ],
        env={
            **os.environ,
            "GOSSIP_DATA_DIR": str(live.settings.data_dir),
            "GOSSIP_DATABASE_URL": live.settings.resolved_database_url,
            "GOSSIP_ADMIN_PASSWORD": user.password,
            "GOSSIP_ARGON2_TIME_COST": "1",
            "GOSSIP_ARGON2_MEMORY_KIB": "64",
        },
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return user
