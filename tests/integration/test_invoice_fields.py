"""The intake reads an invoice's fields from its columns, or by name when some are missing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reactor.domain.deliveries import Delivery, DrainReport
from reactor.pipeline.intake import Intake
from reactor.runtime.wiring import open_store
from reactor.settings.service import Settings, load_settings
from tests.helpers import EMAIL, insert_invoices, query


def _settings(url: str) -> Settings:
    return load_settings(
        Settings, database_url=url, notification_recipients=EMAIL, digest_window_seconds=0
    )


async def _takes(url: str, between: Any = None) -> list[tuple[str | None, list[Delivery]]]:
    """Two takes by one intake (prepared statements, as the service runs them), each after
    an invoice enters review; `between` runs SQL between the two."""
    found = []
    async with open_store(url, prepared_statements=True) as store:
        intake = Intake(store, _settings(url))
        for turn in range(2):
            if turn == 1 and between:
                query(url, between)
            [invoice] = insert_invoices(url, 1, vendor=f"Vendor {turn}")
            query(url, "UPDATE invoices SET currency = 'EUR' WHERE id = %s", (invoice,))
            if turn == 0:
                query(url, "UPDATE invoices SET due_date = '2031-01-10' WHERE id = %s", (invoice,))
            enter = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s"
            query(url, enter, (invoice,))
            taken = await intake.take(10, [], DrainReport())
            found.append((intake.fields, taken.deliveries))
    return found


def test_a_table_with_every_field_is_read_from_its_columns(database_url: str) -> None:
    [(fields, [delivery]), _] = asyncio.run(_takes(database_url))
    assert fields == "columns"
    assert delivery.invoice.vendor_name == "Vendor 0"
    assert delivery.invoice.total_amount == "1250.00"
    assert (delivery.invoice.currency, delivery.invoice.due_date) == ("EUR", "2031-01-10")


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE invoices DROP COLUMN due_date",
        "ALTER TABLE invoices ALTER COLUMN due_date TYPE text,"
        " ALTER COLUMN due_date SET DEFAULT 'soon'",
    ],
    ids=["dropped", "retyped"],
)
def test_a_column_changed_while_running_turns_the_intake_to_reading_by_name(
    database_url: str, change: str
) -> None:
    [(before, [first]), (after, [second])] = asyncio.run(_takes(database_url, between=change))
    assert (before, after) == ("columns", "json")
    assert first.invoice.due_date == "2031-01-10"
    assert second.invoice.vendor_name == "Vendor 1" and second.invoice.due_date is None
    assert second.invoice.currency == "EUR"
