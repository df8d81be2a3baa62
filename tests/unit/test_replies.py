"""SMS replies and follow-ups, the pure parts: reading a reply, choosing follow-ups,
the texts they use, and the rules file's `follow_up`."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor.domain.messages import InvoiceView
from reactor.http.sms_replies import read_reply, twiml
from reactor.messages.renderer import MessageRenderer
from reactor.messages.sms import encoding, segments
from reactor.pipeline.followups import to_follow_up
from reactor.policy.rules import RulesError, load_rules

LINK = "https://app.example.com/invoices/"


@pytest.mark.parametrize(
    ("body", "opt_out_type", "expected"),
    [
        ("2", "", ("code", 2)),
        (" 12. ", "", ("code", 12)),
        ("#3", "", ("code", 3)),
        ("0", "", ("unknown", None)),
        ("100", "", ("unknown", None)),
        ("²", "", ("unknown", None)),  # a digit to isdigit(), not a code
        ("stop", "", ("stop", None)),
        ("Unsubscribe", "", ("stop", None)),
        ("START", "", ("start", None)),
        ("unstop", "", ("start", None)),
        ("help", "", ("help", None)),
        ("please stop", "STOP", ("stop", None)),  # Twilio's Advanced Opt-Out says so
        ("take it", "", ("unknown", None)),
        ("", "", ("unknown", None)),
    ],
)
def test_a_reply_is_read_as_twilio_words_a_code_or_nothing(
    body: str, opt_out_type: str, expected: tuple[str, int | None]
) -> None:
    assert read_reply(body, opt_out_type) == expected


def test_twiml_escapes_the_answer_and_says_nothing_for_none() -> None:
    answer = twiml("Invoice <b>&x is yours").body.decode()
    assert "&lt;b&gt;&amp;x" in answer and "<Message>" in answer
    assert "<Message" not in twiml(None).body.decode()


def _row(episode: int, method: str, recipient: str, rule: str) -> dict[str, object]:
    return {"episode_id": episode, "method": method, "recipient": recipient, "rule_name": rule}


def test_one_follow_up_per_recipient_unless_every_rule_naming_them_is_silent() -> None:
    rows = [
        _row(1, "email", "a@x.example", "everyone"),
        _row(1, "email", "a@x.example", "escalation"),  # the reminder: same person
        _row(1, "sms", "+14155552671", "quiet"),
        _row(1, "email", "b@x.example", "quiet"),
        _row(1, "email", "b@x.example", "everyone"),  # named by a rule that wants it
        _row(2, "email", "a@x.example", "everyone"),
    ]
    chosen = to_follow_up(rows, {"quiet"})
    assert [(r["episode_id"], r["method"], r["recipient"]) for r in chosen] == [
        (1, "email", "a@x.example"),
        (1, "email", "b@x.example"),
        (2, "email", "a@x.example"),
    ]


def _invoice(vendor: str = "Acme Ltd", number: str = "INV-7") -> InvoiceView:
    return InvoiceView("7f1c", number, vendor, "1250.00", "EUR")


def test_the_reply_code_ends_the_sms_and_neither_it_nor_the_link_is_ever_cut() -> None:
    renderer = MessageRenderer("https://app.example.com/")
    body = renderer.sms(_invoice(vendor="V" * 300), reply_code=12)
    assert body.endswith(f"{LINK}7f1c Reply 12 to take it.")
    assert segments(body) == 1 and "V..." in body
    two = MessageRenderer("https://app.example.com/", sms_max_segments=2)
    polish = two.sms(_invoice(vendor="Łódź Wytwórnia " * 10), reply_code=3)
    assert encoding(polish) == "UCS-2" and segments(polish) == 2  # 67 characters each
    assert polish.endswith(f"{LINK}7f1c Reply 3 to take it.") and "Łódź" in polish
    assert "Reply" not in renderer.sms(_invoice())  # no code: replies are off


def test_follow_ups_say_who_took_it_and_escape_hostile_text() -> None:
    renderer = MessageRenderer("https://app.example.com/")
    hostile = _invoice(vendor="<script>x</script>", number="<b>INV</b>")
    email = renderer.taken_email(hostile, "ap-lead@example.com")
    assert email.subject == "Invoice <b>INV</b> is taken"
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "&lt;b&gt;INV&lt;/b&gt;" in email.html and "ap-lead@example.com" in email.text
    sms = renderer.taken_sms(_invoice(), "+14155552671")
    assert sms == "Invoice INV-7 is taken by +14155552671: nothing to do for you."
    card = renderer.taken_teams(_invoice(), "#ap-review")
    assert card.summary == "Invoice INV-7 is taken by #ap-review: nothing to do for you."


def test_follow_up_in_the_rules_file_is_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nfollow_up = false\n')
    assert load_rules(path, "US", "UTC").rules[0].follow_up is False
    path.write_text('[[rule]]\nname = "x"\nnotify = ["a@b.example"]\nfollow_up = "no"\n')
    with pytest.raises(RulesError, match=r"rule 'x': follow_up: must be true or false"):
        load_rules(path, "US", "UTC")
