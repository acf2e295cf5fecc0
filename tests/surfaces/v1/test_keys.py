"""API keys: created through /api/developer/keys, used on /v1, revoked at once."""

from __future__ import annotations

import re

from tests.live import Live, error_code
from tests.surfaces.v1.keys import error_type, new_key, v1


class TestLifecycle:
    def test_secret_is_shown_once_and_only_its_hash_is_kept(self, live: Live) -> None:
        user = live.register()
        key = new_key(live, user, "live", "ci")
        secret = key["secret"]
        assert re.fullmatch(r"gsk_live_[A-Za-z0-9_-]{32}", secret)
        assert key["prefix"] == secret[:13] and key["last4"] == secret[-4:]
        assert key["id"].startswith("key_") and key["mode"] == "live" and key["name"] == "ci"
        assert key["lastUsedAt"] is None and key["revokedAt"] is None
        listing = live.data(live.get("/api/developer/keys", user))
        assert listing["plan"] == "free" and listing["dailyLimit"] == 100
        [shown] = listing["keys"]
        assert "secret" not in shown
        assert secret not in live.get("/api/developer/keys", user).text
        assert secret[13:-4] not in live.get("/api/developer/keys", user).text
        assert shown["id"] == key["id"] and shown["prefix"] == key["prefix"]

    def test_test_keys_say_so(self, live: Live) -> None:
        key = new_key(live, live.register(), "test")
        assert key["secret"].startswith("gsk_test_") and key["mode"] == "test"

    def test_the_key_works_then_revoked_is_refused_at_once(self, live: Live) -> None:
        user = live.register()
        key = new_key(live, user)
        answer = v1(live, "GET", f"/profiles/{user.username}", key["secret"])
        assert answer.status_code == 200, answer.text
        assert answer.json()["username"] == user.username
        used = live.data(live.get("/api/developer/keys", user))["keys"][0]
        assert used["lastUsedAt"] is not None
        revoked = live.data(live.delete(f"/api/developer/keys/{key['id']}", user))
        assert revoked["revokedAt"] is not None
        refused = v1(live, "GET", f"/profiles/{user.username}", key["secret"])
        assert refused.status_code == 401 and error_type(refused) == "authentication_error"
        assert refused.headers["X-Gossip-Cost-Usd"] == "0"
        again = live.delete(f"/api/developer/keys/{key['id']}", user)
        assert live.data(again)["revokedAt"] == revoked["revokedAt"]

    def test_another_accounts_key_does_not_exist(self, live: Live) -> None:
        owner, other = live.register(), live.register()
        key = new_key(live, owner)
        response = live.delete(f"/api/developer/keys/{key['id']}", other)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert live.data(live.get("/api/developer/keys", other))["keys"] == []
        still = v1(live, "GET", f"/profiles/{owner.username}", key["secret"])
        assert still.status_code == 200
        for bad in ("nope", "key_", "key_0", "key_99999999999999999999"):
            assert live.delete(f"/api/developer/keys/{bad}", owner).status_code == 404

    def test_missing_or_bad_keys_are_401(self, live: Live) -> None:
        user = live.register()
        key = new_key(live, user)
        forged = key["secret"][:-1] + ("A" if key["secret"][-1] != "A" else "B")
        for secret, headers in (
            (None, {}),
            (None, {"Authorization": "Basic Zm9vOmJhcg=="}),
            (None, {"Authorization": f"Bearer {user.token}"}),  # a login token is no key
            ("gsk_live_short", {}),
            (forged, {}),
            (key["secret"].replace("gsk_live_", "gsk_test_"), {}),
        ):
            response = v1(live, "GET", "/pricing", secret, headers=headers)
            assert response.status_code == 401, (secret, headers, response.text)
            assert error_type(response) == "authentication_error"
            assert response.headers["X-Gossip-Cost-Usd"] == "0"

    def test_bad_bodies(self, live: Live) -> None:
        user = live.register()
        for body in ({"mode": "prod"}, {"name": ""}, {"name": "x" * 81}, {"mode": None}):
            response = live.post("/api/developer/keys", user, json=body)
            assert response.status_code == 400, body
        assert live.post("/api/developer/keys", json={"mode": "live"}).status_code == 401
