"""The floor of issue 26: the least a program must do to turn a commit into an SMS request.

`python -m bench.floor_program DATABASE_URL TWILIO_URL ACCOUNT_SID AUTH_TOKEN [claim]` on
uvloop: it holds the reactor's wake-up lock and LISTENs on its channel (so the trigger
sends it a NOTIFY), takes each outbox row with one prepared `DELETE … RETURNING` on a
second connection, and sends one kept-alive request per invoice with aiohttp to the fake
Twilio. No rules, no rendering, no bookkeeping: what the reactor is measured against.

With `claim` it takes the outbox row with the reactor's own claiming statement instead
(`take_events.sql`, its parameters from the reactor's settings in the environment, the
reactor's `synchronous_commit=off`), and sends one request per delivery it claims: the
floor plus that statement, to tell the statement's cost from the rest of the reactor's.
Prints `ready` once it listens.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import psycopg
import uvloop
from psycopg.rows import dict_row

WAKE_UP_LOCK = 7_355_608_001  # the trigger's key (sql/schema/0009_row_trigger_up.sql)
TAKE = """
DELETE FROM review_events
WHERE id = (SELECT id FROM review_events ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING invoice_ids
"""


def reactor_claim() -> tuple[str, tuple[Any, ...]]:
    """The reactor's claiming statement and its arguments, as its intake runs it."""
    from reactor.db.statements import statement
    from reactor.pipeline.intake import Intake
    from reactor.settings.service import Settings

    claim = statement("take_events", invoice_fields="invoice_fields/columns")
    params = Intake(None, Settings()).params(400, [])  # type: ignore[arg-type]
    return claim.text, claim.args(params)


async def main(database_url: str, twilio_url: str, sid: str, token: str, mode: str) -> None:
    """Listen, take, send; until killed."""
    listener = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    taker = await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, options="-c synchronous_commit=off" if mode else ""
    )
    claim = reactor_claim() if mode == "claim" else None
    await listener.execute("SELECT pg_advisory_lock(%s)", (WAKE_UP_LOCK,))
    await listener.execute("LISTEN invoice_review")
    url = f"{twilio_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
    headers = {"Authorization": aiohttp.encode_basic_auth(sid, token)}
    async with aiohttp.ClientSession(headers=headers) as session:
        print("ready", flush=True)
        async for _ in listener.notifies():
            while invoices := await take(taker, claim):
                for invoice_id in invoices:
                    form = {
                        "To": "+14155552671",
                        "From": "+14155550000",
                        "Body": f"Invoice needs review: https://ap.example.com/invoices/{invoice_id}",
                    }
                    async with session.post(url, data=form) as answer:
                        await answer.read()


async def take(
    taker: psycopg.AsyncConnection[Any], claim: tuple[str, tuple[Any, ...]] | None
) -> list[str]:
    """The invoices of the next outbox row (none when it is empty)."""
    if claim is None:
        row = await (await taker.execute(TAKE, prepare=True)).fetchone()
        return [str(invoice) for invoice in row[0]] if row else []
    cursor = psycopg.AsyncRawCursor(taker, row_factory=dict_row)
    await cursor.execute(claim[0], claim[1], prepare=True)
    rows = await cursor.fetchall()
    return [str(row["invoice_id"]) for row in rows if row["id"] is not None]


if __name__ == "__main__":
    uvloop.run(main(*sys.argv[1:5], mode=sys.argv[5] if len(sys.argv) > 5 else ""))
