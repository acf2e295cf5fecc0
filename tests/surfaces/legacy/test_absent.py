"""Switched off (the default), spec 002's surface does not exist at all."""

from __future__ import annotations

import pytest

from gossip.config import Settings
from tests.live import Live

PATHS = [
    ("POST", "/new"),
    ("POST", "/update-account"),
    ("POST", "/create-channel"),
    ("GET", "/users?users=1"),
    ("GET", "/messages?channel_id=null"),
    ("GET", "/dmchannels?channels=1"),
    ("GET", "/socket.io/?EIO=4&transport=polling"),
]


def test_off_by_default() -> None:
    assert Settings().legacy_dm is False


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_path_is_an_ordinary_404(live: Live, method: str, path: str) -> None:
    assert live.settings.legacy_dm is False
    response = live.request(
        method, path, json={"username": "someone"} if method == "POST" else None
    )
    # Chirp's own 404 for an unknown route: nothing of spec 002 answers.
    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "NOT_FOUND"
