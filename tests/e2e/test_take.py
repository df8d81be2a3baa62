"""Taking an invoice from an email's link: GET changes nothing, the POST takes it, the
first take wins, the reminder stops, and forged or stale links are refused."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.fakes import FakeSendGrid
from tests.helpers import (
    EMAILS,
    ReactorProcess,
    free_port,
    insert_invoices,
    query,
    scalar,
    wait_until,
)

SECRET = "take-link-secret-" + "s" * 32
LEAD = "ap-lead@example.com"
TAKE_LINK = re.compile(r"I'll take it \(tells the others you are on it\): (\S+)")
FLIP = "UPDATE invoices SET matched_status = %s WHERE id = %s"
RULES = f"""
[[rule]]
name = "everyone"
notify = ["{EMAILS[0]}", "{EMAILS[1]}"]

[[rule]]
name = "lead"
notify = ["{LEAD}"]
escalate_after = "3s"
"""


def _links(sendgrid: FakeSendGrid, invoice: str) -> dict[str, str]:
    """Each recipient's take link for the invoice, from the emails' text parts."""
    links = {}
    for request in sendgrid.accepted():
        text = request.data["content"][0]["value"]
        if invoice in text and (found := TAKE_LINK.search(text)):
            links[request.recipient] = found.group(1)
    return links


def _taken(database_url: str, invoice: str) -> tuple | None:
    rows = query(
        database_url,
        "SELECT taken_by, taken_via FROM review_episodes WHERE invoice_id = %s"
        " AND taken_at IS NOT NULL",
        (invoice,),
    )
    return rows[0] if rows else None


def test_a_link_takes_the_invoice_once_and_its_escalation_stops(
    reactor_env: dict[str, str], database_url: str, sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    port = free_port()
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    env = {
        **reactor_env,
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LINK_SECRET_KEY": SECRET,
        "NOTIFICATION_RULES_FILE": str(rules),
    }
    del env["NOTIFICATION_RECIPIENTS"]
    first, second, untaken = insert_invoices(database_url, 3)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ("NEEDS_REVIEW", first))
        sendgrid.wait_for(2)
        links = _links(sendgrid, first)
        assert set(links) == {EMAILS[0], EMAILS[1]}
        mine, theirs = links[EMAILS[0]], links[EMAILS[1]]
        assert mine.startswith(f"http://127.0.0.1:{port}/take/")
        with httpx.Client(timeout=5) as browser:
            page = browser.get(mine)  # what a mail scanner does: nothing changes
            assert page.status_code == 200 and "I'll take it" in page.text
            assert page.headers["referrer-policy"] == "same-origin"
            assert _taken(database_url, first) is None
            assert browser.post(mine, data={"csrf": "forged"}).status_code == 403
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            taken = browser.post(mine, data={"csrf": csrf})
            assert taken.status_code == 200 and "is yours" in taken.text
        assert _taken(database_url, first) == (EMAILS[0], "email")
        with httpx.Client(timeout=5) as other:  # the second take is told who has it
            page = other.get(theirs)
            assert "is taken" in page.text and "I'll take it</button>" not in page.text
        for forged in (mine[:-3] + "AAA", mine.replace("/take/", "/take/9"), "x.y.z"):
            url = forged if forged.startswith("http") else f"{process.base_url}/take/{forged}"
            assert httpx.get(url, timeout=5).status_code == 403
        # The escalation (3 s) is skipped for the taken invoice, sent for an untaken one.
        query(database_url, FLIP, ("NEEDS_REVIEW", untaken))
        escalation = (
            "SELECT status, error_message, recipient FROM notifications WHERE invoice_id = %s"
            " AND kind = 'reminder'"
        )
        wait_until(
            lambda: query(database_url, escalation, (first,))[0][0] == "SKIPPED", what="skip"
        )
        assert "took the invoice" in query(database_url, escalation, (first,))[0][1]
        wait_until(
            lambda: query(database_url, escalation, (untaken,))[0][0] == "SENT", what="escalated"
        )
        assert query(database_url, escalation, (untaken,))[0][2] == LEAD
        # A link of an ended episode is refused: the invoice left review and came back.
        query(database_url, FLIP, ("NEEDS_REVIEW", second))
        wait_until(lambda: len(_links(sendgrid, second)) >= 2, what="the second's emails")
        old = _links(sendgrid, second)[EMAILS[1]]
        query(database_url, FLIP, ("MATCHED", second))
        query(database_url, FLIP, ("NEEDS_REVIEW", second))
        wait_until(
            lambda: (
                scalar(
                    database_url,
                    "SELECT count(*) FROM review_episodes WHERE invoice_id = %s",
                    (second,),
                )
                == 2
            ),
            what="a second episode",
        )
        assert httpx.get(old, timeout=5).status_code == 403
        metrics = process.get("/metrics").text
        assert 'reactor_takes_total{channel="email"} 1.0' in metrics
        assert 'reactor_time_to_take_seconds_count{channel="email"} 1.0' in metrics
    finally:
        process.stop()
    assert "/take/" not in process.output()  # tokens never reach the log
