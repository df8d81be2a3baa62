"""The pipeline's SQL files as native statements: placeholders converted once, slots filled."""

from __future__ import annotations

import pytest

from reactor.db.statements import fill, native, statement


def test_named_placeholders_become_numbered_in_order_of_first_use() -> None:
    converted = native("SELECT %(b)s, %(a)s WHERE x = %(b)s")
    assert converted.text == "SELECT $1, $2 WHERE x = $1"
    assert converted.names == ("b", "a")
    assert converted.args({"a": 1, "b": 2, "unused": 3}) == (2, 1)


def test_a_missing_parameter_is_an_error_not_a_null() -> None:
    with pytest.raises(KeyError):
        native("SELECT %(a)s").args({})


def test_a_literal_percent_is_refused() -> None:
    with pytest.raises(ValueError, match="literal %"):
        native("SELECT 'a' LIKE 'a%%'")


def test_a_slot_takes_its_fragment_and_an_unfilled_slot_is_an_error() -> None:
    text = "SELECT * FROM x CROSS JOIN LATERAL (\n    /* invoice_fields */\n) f"
    filled = fill(text, {"invoice_fields": "invoice_fields/columns"})
    assert "i.invoice_number::text" in filled and "/* invoice_fields */" not in filled
    with pytest.raises(KeyError, match="invoice_fields"):
        fill(text, {})


@pytest.mark.parametrize("fields", ["columns", "json"])
def test_the_intake_statement_has_no_slot_or_percent_left(fields: str) -> None:
    converted = statement("take_events", invoice_fields=f"invoice_fields/{fields}")
    assert "%(" not in converted.text and "/*" not in converted.text
    assert {"limit", "routes", "claim_episodes", "paused"} <= set(converted.names)
