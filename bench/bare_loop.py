"""The ceiling for benchmark 2: a bare loop that only calls the provider SDKs.

Runs as its own process (`python -m bench.bare_loop CONFIG_JSON`), like a reactor, so
it has its own interpreter lock rather than sharing the bench's with the fakes. It
uses the reactor's own transports (the same SDK calls over the same kept-alive
sessions) from as many asyncio tasks as the reactor's SEND_CONCURRENCY. Messages are
rendered before the clock starts: the loop does nothing but SDK calls. Protocol: prints
`ready`, waits for a line on stdin, runs, prints one JSON line with its own timings.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from reactor.domain.messages import InvoiceView
from reactor.messages.renderer import MessageRenderer
from reactor.transports.sendgrid import SendGridTransport
from reactor.transports.twilio import TwilioTransport


async def send_all(jobs: list, concurrency: int, transports: tuple) -> int:
    """Send every job from `concurrency` tasks; return how many failed."""
    pending = iter(jobs)
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for transport, recipient, message in pending:
            try:
                await transport.send(recipient, message)
            except Exception:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    for transport in transports:
        await transport.close()
    return errors


def main(argv: list[str]) -> int:
    """Run the loop described by the JSON config in argv[0]."""
    config = json.loads(argv[0])
    invoices = config["deliveries"] // 2
    renderer = MessageRenderer(frontend_base_url=config["frontend"])
    email = SendGridTransport(
        api_key=config["sendgrid_key"],
        from_email="reactor@example.com",
        host=config["sendgrid_url"],
        timeout=10.0,
    )
    sms = TwilioTransport(
        account_sid=config["twilio_sid"],
        auth_token=config["twilio_token"],
        base_url=config["twilio_url"],
        timeout=10.0,
        from_number="+14155550000",
    )
    render_started = time.perf_counter()
    jobs = []
    for index in range(invoices):
        view = InvoiceView(
            invoice_id=str(uuid.uuid4()),
            invoice_number=f"INV-{index}",
            vendor_name=f"Vendor {index % 5000}",
            total_amount="1250.00",
            currency="USD",
        )
        jobs.append((email, config["email_recipient"], renderer.email(view)))
        jobs.append((sms, config["sms_recipient"], renderer.sms(view)))
    render_seconds = time.perf_counter() - render_started
    print("ready", flush=True)
    sys.stdin.readline()

    cpu_started = time.process_time()
    started = time.time()
    errors = asyncio.run(send_all(jobs, config["concurrency"], (email, sms)))
    finished = time.time()
    result = {
        "deliveries": len(jobs),
        "errors": errors,
        "started_at": started,
        "finished_at": finished,
        "seconds": finished - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "render_ms_per_message": render_seconds * 1000 / max(1, len(jobs)),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
