"""The /v1 list conventions: opaque cursors, pages, prefixed IDs."""

from __future__ import annotations

import pytest

from gossip.kit.errors import NotFound, ValidationFailed
from gossip.surfaces.v1.pagination import (
    PageParams,
    decode_cursor,
    encode_cursor,
    paginate,
    parse_public_id,
    public_id,
)


@pytest.mark.parametrize("position", [1, 1234567890123456789, "2026-11-24", "a b"])
def test_cursors_round_trip(position: int | str) -> None:
    cursor = encode_cursor(position)
    assert cursor.replace("-", "").replace("_", "").isalnum()
    assert decode_cursor(cursor) == position


@pytest.mark.parametrize("cursor", ["", "!!", "bm9wZQ", encode_cursor("x")[:-2] + "AA", "YzE6aTp4"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor)


def test_pages() -> None:
    rows = [5, 4, 3]
    first = paginate(rows, PageParams(2, None), position=lambda r: r, render=lambda r: {"n": r})
    assert first["items"] == [{"n": 5}, {"n": 4}]
    assert decode_cursor(first["next_cursor"]) == 4
    last = paginate(rows[2:], PageParams(2, 4), position=lambda r: r, render=lambda r: r)
    assert last == {"items": [3], "next_cursor": None}
    empty = paginate([], PageParams(20, None), position=lambda r: r, render=lambda r: r)
    assert empty == {"items": [], "next_cursor": None}


def test_prefixed_ids() -> None:
    assert public_id("b", 123) == "b_123"
    assert parse_public_id("b", "b_123") == 123
    for bad in ("s_123", "b_", "b_x", "123", "b_0", "b_99999999999999999999", "b__1"):
        with pytest.raises(NotFound):
            parse_public_id("b", bad)
