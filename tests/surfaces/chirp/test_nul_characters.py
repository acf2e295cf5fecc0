"""A NUL character in any text input is refused (400, or 404 where it names a thing), never
a 500: PostgreSQL text cannot hold NUL, so each of these was a database error there.

Found by the schemathesis run (tests/test_openapi_schemathesis.py) with more examples than
CI uses; pinned here because random generation produces NUL too rarely to rely on.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.live import Live, error_code

NUL = "\x00"


@pytest.fixture(scope="module")
def server_id(live: Live) -> str:
    owner = live.register()
    return str(live.data(live.post("/api/servers", owner, json={"name": "nul"}), 201)["id"])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/api/users/search", {"params": {"q": f"a{NUL}"}}, "q"),
        ("PATCH", "/api/users/me", {"json": {"bio": f"a{NUL}"}}, "bio"),
        ("POST", "/api/servers", {"json": {"name": f"a{NUL}b"}}, "name"),
        ("POST", "/api/servers", {"json": {"name": "ok", "region": NUL}}, "region"),
        ("PATCH", "/api/servers/{sid}", {"json": {"description": NUL}}, "description"),
        ("PATCH", "/api/servers/{sid}", {"json": {"features": [NUL]}}, "features.0"),
        ("GET", "/api/servers/{sid}/members", {"params": {"query": NUL}}, "query"),
    ],
)
def test_text_with_nul_is_a_validation_error(
    live: Live, server_id: str, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    owner_of_nothing = live.register()
    # The server's owner is not needed: validation comes before any permission check.
    response = live.request(method, path.format(sid=server_id), owner_of_nothing, **kwargs)
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR"
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_login_and_register_refuse_nul(live: Live) -> None:
    login = live.post("/api/auth/login", json={"email": f"a{NUL}@example.com", "password": "x"})
    assert login.status_code == 400, login.text
    body = {"username": "nulcheck", "email": "nul@example.com", "password": "long enough"}
    register = live.post("/api/auth/register", json={**body, "inviteCode": f"a{NUL}"})
    assert register.status_code == 400, register.text


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_invite_code_with_nul_names_nothing(live: Live, method: str) -> None:
    response = live.request(method, "/api/invites/ab%00cd", live.register())
    assert response.status_code == 404, response.text
    assert error_code(response) == "NOT_FOUND"
