"""The documentation names every /api route, so it cannot silently fall behind the code."""

from __future__ import annotations

from pathlib import Path

from gossip.app import create_app
from gossip.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_api_route_is_in_docs_api(tmp_path: Path) -> None:
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    text = (DOCS / "api.md").read_text()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        if path.startswith("/api/")
        for method in operations
        if f"`{method.upper()} {path}`" not in text
    ]
    assert not missing, f"docs/api.md does not list: {missing}"
