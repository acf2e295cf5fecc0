"""Framework errors in each surface's terms."""

from __future__ import annotations

from gossip.surfaces.errors import validation_details


def test_malformed_json_names_the_body_not_a_character_offset() -> None:
    # What FastAPI reports for b'{"username": ' (pydantic's json_invalid, at offset 13).
    errors = [{"type": "json_invalid", "loc": ("body", 13), "msg": "JSON decode error"}]
    assert validation_details(errors) == [{"field": "body", "message": "Malformed JSON"}]


def test_field_errors_name_the_field_path() -> None:
    errors = [{"type": "string_too_short", "loc": ("body", "embeds", 0, "title"), "msg": "short"}]
    assert validation_details(errors) == [{"field": "embeds.0.title", "message": "short"}]
