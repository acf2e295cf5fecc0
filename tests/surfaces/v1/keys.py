"""Helpers of the /v1 tests: keys made through the dashboard's API, requests with them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.live import Live, User


def new_key(live: Live, user: User, mode: str = "live", name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"mode": mode}
    if name is not None:
        body["name"] = name
    data: dict[str, Any] = live.data(live.post("/api/developer/keys", user, json=body), 201)
    return data


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def v1(live: Live, method: str, path: str, secret: str | None, **kw: Any) -> httpx.Response:
    headers = dict(kw.pop("headers", {}) or {})
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return live.http.request(method, f"/v1{path}", headers=headers, **kw)


def error_type(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    return str(body["error"]["type"])
