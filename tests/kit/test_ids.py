"""parse_id: what a path or query string may name."""

from __future__ import annotations

import pytest

from gossip.kit.ids import MAX_SNOWFLAKE, parse_id


@pytest.mark.parametrize(
    "value",
    [
        "³",  # str.isdigit() is true, int() raises: this was a 500 on every {id} route
        "١٢٣",  # Arabic-Indic digits: int() reads them as 123
        "１２３",  # fullwidth digits, likewise
        "",
        "0",
        "-1",
        " 12",
        "12a",
        "1" * 20,
        str(MAX_SNOWFLAKE + 1),
    ],
)
def test_refuses_what_is_not_one_of_our_ids(value: str) -> None:
    assert parse_id(value) is None


def test_reads_ascii_decimal_ids() -> None:
    assert parse_id("1574355811376123904") == 1574355811376123904
    assert parse_id(str(MAX_SNOWFLAKE)) == MAX_SNOWFLAKE
