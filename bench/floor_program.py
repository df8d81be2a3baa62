"""The floor of issue 26: the least a program must do to turn a commit into an SMS request.

`python -m bench.floor_program DATABASE_URL TWILIO_URL ACCOUNT_SID AUTH_TOKEN` on uvloop:
it holds the reactor's wake-up lock and LISTENs on its channel (so the trigger sends it
a NOTIFY), takes each outbox row with one prepared `DELETE … RETURNING` on a second
connection, and sends one kept-alive request per invoice with aiohttp to the fake
Twilio. No rules, no rendering, no bookkeeping: what the reactor is measured against.
Prints `ready` once it listens.
"""

from __future__ import annotations

import sys

import aiohttp
import psycopg
import uvloop

WAKE_UP_LOCK = 7_355_608_001  # the trigger's key (sql/schema/0009_row_trigger_up.sql)
TAKE = """
DELETE FROM review_events
WHERE id = (SELECT id FROM review_events ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING invoice_ids
"""


async def main(database_url: str, twilio_url: str, sid: str, token: str) -> None:
    """Listen, take, send; until killed."""
    listener = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    taker = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    await listener.execute("SELECT pg_advisory_lock(%s)", (WAKE_UP_LOCK,))
    await listener.execute("LISTEN invoice_review")
    url = f"{twilio_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
    headers = {"Authorization": aiohttp.BasicAuth(sid, token).encode()}
    async with aiohttp.ClientSession(headers=headers) as session:
        print("ready", flush=True)
        async for _ in listener.notifies():
            while True:
                row = await (await taker.execute(TAKE, prepare=True)).fetchone()
                if row is None:
                    break
                for invoice_id in row[0]:
                    form = {
                        "To": "+14155552671",
                        "From": "+14155550000",
                        "Body": f"Invoice needs review: https://ap.example.com/invoices/{invoice_id}",
                    }
                    async with session.post(url, data=form) as answer:
                        await answer.read()


if __name__ == "__main__":
    uvloop.run(main(*sys.argv[1:5]))
