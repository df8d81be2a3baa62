"""The peer: one PGQueuer consumer process doing the reactor's job, one job per invoice.

Run by bench/peer.py as `python -m bench.peer_worker CONFIG_JSON`. PGQueuer's best
configuration by its own documentation: the asyncpg driver on uvloop, a batch per
dequeue, and enough concurrency; the handler reads the invoice and sends one email
(`sendgrid` SDK) and one SMS (`twilio` SDK) concurrently on threads.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import uvloop
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, Mail
from twilio.rest import Client


def _clients(config: dict[str, Any], local: threading.local) -> tuple[Any, Any]:
    if not hasattr(local, "sendgrid"):
        local.sendgrid = SendGridAPIClient(config["sendgrid_key"], host=config["sendgrid_host"])
        local.sendgrid.client.timeout = 10
        twilio = Client(config["twilio_sid"], config["twilio_token"])
        twilio.edge = twilio.region = None
        twilio.api.base_url = config["twilio_base"]
        local.twilio = twilio.api.v2010.accounts(config["twilio_sid"]).messages
    return local.sendgrid, local.twilio


async def main(config: dict[str, Any]) -> None:
    """Consume until killed."""
    local = threading.local()
    threads = ThreadPoolExecutor(config["concurrency"], thread_name_prefix="peer-send")
    loop = asyncio.get_running_loop()
    reads = await asyncpg.create_pool(config["dsn"], min_size=2, max_size=4)
    pgq = PgQueuer(AsyncpgDriver(await asyncpg.connect(config["dsn"])))

    def email(invoice_id: str, text: str) -> None:
        sendgrid, _ = _clients(config, local)
        mail = Mail(config["from_email"], config["email"], f"Invoice {invoice_id} needs review")
        mail.add_content(Content("text/plain", text))
        mail.add_content(Content("text/html", f"<p>{text}</p>"))
        sendgrid.send(mail)

    def sms(text: str) -> None:
        _, messages = _clients(config, local)
        messages.create(to=config["phone"], from_=config["from_number"], body=text)

    @pgq.entrypoint("notify", concurrency_limit=config["concurrency"])
    async def notify(job: Job) -> None:
        invoice_id = (job.payload or b"").decode()
        row = await reads.fetchrow(
            "SELECT vendor_name, total_amount FROM invoices WHERE id = $1::uuid", invoice_id
        )
        vendor, amount = (row["vendor_name"], row["total_amount"]) if row else ("?", "?")
        text = f"Invoice needs review: {vendor} {amount} {config['frontend']}/invoices/{invoice_id}"
        await asyncio.gather(
            loop.run_in_executor(threads, sms, text),
            loop.run_in_executor(threads, email, invoice_id, text),
        )

    print("ready", flush=True)
    await pgq.run(batch_size=config["batch_size"], max_concurrent_tasks=config["concurrency"])


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(json.loads(sys.argv[1])))
