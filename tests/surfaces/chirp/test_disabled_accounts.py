"""A disabled account is refused everywhere with ACCOUNT_DISABLED (spec 004's code)."""

from __future__ import annotations

import asyncio

from gossip.db.engine import connect
from gossip.users import repository as users
from tests.live import Live, error_code


def set_disabled(live: Live, user_id: str, disabled: bool) -> None:
    # The admin API that does this belongs to a later issue; the repository is the same
    # code path that API will use.
    async def run() -> None:
        database = connect(live.settings.resolved_database_url)
        try:
            async with database.write_session() as session:
                await users.set_fields(session, int(user_id), disabled=disabled)
                await session.commit()
        finally:
            await database.dispose()

    asyncio.run(run())


class TestDisabledAccount:
    def test_login_and_tokens_are_refused_until_enabled(self, live: Live) -> None:
        user = live.register()
        set_disabled(live, user.id, True)
        login = live.post("/api/auth/login", json={"email": user.email, "password": user.password})
        assert login.status_code == 403 and error_code(login) == "ACCOUNT_DISABLED"
        me = live.get("/api/users/me", user)
        assert me.status_code == 403 and error_code(me) == "ACCOUNT_DISABLED"
        refresh = live.post(
            "/api/auth/refresh", headers={"Authorization": f"Bearer {user.refresh}"}
        )
        assert refresh.status_code == 403
        set_disabled(live, user.id, False)
        assert live.get("/api/users/me", user).status_code == 200

    def test_wrong_password_of_a_disabled_account_does_not_reveal_it(self, live: Live) -> None:
        user = live.register()
        set_disabled(live, user.id, True)
        login = live.post(
            "/api/auth/login", json={"email": user.email, "password": "not it at all"}
        )
        assert login.status_code == 401
