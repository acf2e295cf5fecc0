"""Spec 001's list conventions: cursor pagination and prefixed IDs.

Cursor pagination: a list route takes `page: Page` (query `limit` 1-100, default 20, and
`cursor`, the previous response's `next_cursor`) and answers
`{"items": [...], "next_cursor": "…" | null}`; null means the end. Cursors are opaque to
clients (base64url of a version tag and a position); a cursor that does not decode is 400
`invalid_request`. The usual shape, newest first:

    rows = await repo.list(session, owner, before=page.after, limit=page.limit + 1)
    return JSON(paginate(rows, page, position=lambda r: r.id, render=view))

`page.after` is the decoded position (an int, or a str for positions like dates), None on
the first page; the repository returns rows strictly past it, `limit + 1` of them, so
`paginate` knows whether another page exists without counting.

Prefixed IDs: resources are shown as `<prefix>_<snowflake>` (`p_…` profiles, `b_…` buzzes,
`s_…` sips, `key_…` keys, …): `public_id("b", 123)` -> "b_123"; `parse_public_id("b",
value)` gives the snowflake, or raises NotFound(what) for anything else (a malformed ID
names nothing, so 404 like an unknown one).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from gossip.kit import ids
from gossip.kit.errors import NotFound, ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_TAG = "c1:"


def encode_cursor(position: int | str) -> str:
    kind = "i" if isinstance(position, int) else "s"
    raw = f"{_TAG}{kind}:{position}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed.field("cursor", "is not a cursor this API gave out") from None
    if not raw.startswith(_TAG) or raw[len(_TAG) + 1 : len(_TAG) + 2] != ":":
        raise ValidationFailed.field("cursor", "is not a cursor this API gave out")
    kind, value = raw[len(_TAG)], raw[len(_TAG) + 2 :]
    if kind == "i" and value.isdigit() and len(value) <= 19:
        return int(value)
    if kind == "s" and value and "\x00" not in value:
        return value
    raise ValidationFailed.field("cursor", "is not a cursor this API gave out")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    after: int | str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1-100")] = (
        DEFAULT_LIMIT
    ),
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="next_cursor from the previous page",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit, decode_cursor(cursor) if cursor is not None else None)


Page = Annotated[PageParams, Depends(page_params)]


def paginate(
    rows: Sequence[T],
    page: PageParams,
    *,
    position: Callable[[T], int | str],
    render: Callable[[T], Any],
) -> dict[str, Any]:
    """`rows` holds up to limit + 1 rows: the extra one only says there is more."""
    shown = rows[: page.limit]
    more = len(rows) > page.limit
    return {
        "items": [render(row) for row in shown],
        "next_cursor": encode_cursor(position(shown[-1])) if more and shown else None,
    }


def public_id(prefix: str, snowflake: int) -> str:
    return f"{prefix}_{snowflake}"


def parse_public_id(prefix: str, value: str, what: str = "Resource") -> int:
    head, _, tail = value.partition("_")
    parsed = ids.parse_id(tail) if head == prefix else None
    if parsed is None:
        raise NotFound(what)
    return parsed
