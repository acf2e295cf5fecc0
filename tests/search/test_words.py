"""How search reads a query and scores a candidate (pure functions of search/service.py)."""

from __future__ import annotations

import pytest

from gossip.kit.errors import ValidationFailed
from gossip.search.service import relevance, words_of


def test_words_are_letters_and_digits_lowered_once_each() -> None:
    assert words_of('Hello, "WORLD" hello_again e-mail x2 NEAR(') == [
        "hello",
        "world",
        "again",
        "e",
        "mail",
        "x2",
        "near",
    ]
    assert words_of("café Ünïcode") == ["café", "ünïcode"]


@pytest.mark.parametrize("query", ["", "!!!", "___", "x" * 201, " ".join(["w"] * 0)])
def test_refuses_a_query_without_words_or_too_long(query: str) -> None:
    with pytest.raises(ValidationFailed):
        words_of(query)


def test_more_occurrences_in_shorter_text_score_higher() -> None:
    dense = relevance("apple apple pie", ["apple"])
    single = relevance("apple pie", ["apple"])
    diluted = relevance("apple " + "filler " * 50, ["apple"])
    assert 1 > dense > single > diluted > 0
    assert relevance("", ["apple"]) == 0.0
    # Holding both words of a two-word query beats holding one of them twice.
    assert relevance("apple pie", ["apple", "pie"]) > relevance("apple apple", ["apple", "pie"])
