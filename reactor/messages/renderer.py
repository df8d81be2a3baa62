"""Renders the review e-mail and SMS for an invoice from Jinja templates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reactor.domain.messages import CardMessage, ChatMessage, InvoiceView, RenderedEmail
from reactor.messages import slack, teams
from reactor.messages.sms import fit_sms

UNKNOWN_VENDOR = "Unknown vendor"
UNKNOWN_AMOUNT = "amount unknown"
SUBJECT_MAX_CHARS = 150
DIGEST_LISTED = 20  # a digest email lists this many invoices; the rest are counted
# Caps inside the subject so a huge vendor or number cannot crowd out the rest.
_SUBJECT_VENDOR_CHARS = 60
_SUBJECT_REFERENCE_CHARS = 40

_CENTS = Decimal("0.01")
# Whitespace (incl. line/paragraph separators) and C0/C1 control characters.
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# Bidi overrides and zero-width characters, which can disguise untrusted text.
_INVISIBLE_RE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def clean_line(text: str | None) -> str:
    """Collapse whitespace and control characters to single spaces; drop invisibles."""
    if not text:
        return ""
    text = _INVISIBLE_RE.sub("", text)
    return _SPACE_OR_CONTROL_RE.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with ``...`` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)].rstrip() + "..."


def format_amount(amount: str | None, currency: str) -> str:
    """``"1234.5"`` -> ``"1,234.50 USD"``; None or unparsable -> ``"amount unknown"``."""
    if amount is None:
        return UNKNOWN_AMOUNT
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return UNKNOWN_AMOUNT
    if not value.is_finite():
        return UNKNOWN_AMOUNT
    # Enough precision that quantizing a large amount cannot overflow the context.
    context = Context(prec=max(28, value.adjusted() + 4), rounding=ROUND_HALF_UP)
    value = value.quantize(_CENTS, context=context)
    if value.is_zero():
        value = abs(value)  # no "-0.00"
    return f"{value:,.2f} {currency}"


class MessageRenderer:
    """Renders review notifications; create once and reuse (templates are cached)."""

    def __init__(
        self,
        frontend_base_url: str,
        invoice_path: str = "/invoices/{id}",
        default_currency: str = "USD",
        sms_max_segments: int = 1,
        review_queue_path: str = "/invoices?status=NEEDS_REVIEW",
    ) -> None:
        self._base_url = frontend_base_url.rstrip("/")
        self._queue_link = self._base_url + review_queue_path
        self._invoice_path = invoice_path
        self._default_currency = default_currency
        self._sms_max_segments = sms_max_segments
        env = Environment(
            loader=PackageLoader("reactor.messages", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._subject_template = env.get_template("email_subject.txt.j2")
        self._html_template = env.get_template("email.html.j2")
        self._text_template = env.get_template("email.txt.j2")
        self._sms_template = env.get_template("sms.txt.j2")
        self._digest_html = env.get_template("digest.html.j2")
        self._digest_text = env.get_template("digest.txt.j2")
        self._digest_sms = env.get_template("digest_sms.txt.j2")
        self._taken_html = env.get_template("taken.html.j2")
        self._taken_text = env.get_template("taken.txt.j2")
        self._taken_sms = env.get_template("taken_sms.txt.j2")

    def link(self, invoice_id: str) -> str:
        """URL of the invoice in the frontend."""
        return self._base_url + self._invoice_path.replace("{id}", quote(invoice_id, safe=""))

    def _facts(self, invoice: InvoiceView) -> dict[str, Any]:
        number = clean_line(invoice.invoice_number)
        vendor = clean_line(invoice.vendor_name)
        currency = clean_line(invoice.currency).upper() or self._default_currency
        return {
            "invoice_id": clean_line(invoice.invoice_id),
            "invoice_number": number,
            "reference": number or clean_line(invoice.invoice_id),
            "vendor": vendor or UNKNOWN_VENDOR,
            "vendor_known": bool(vendor),
            "amount": format_amount(invoice.total_amount, currency),
            "due_date": invoice.due_date,
            "link": self.link(invoice.invoice_id),
        }

    def _subject(self, facts: dict[str, Any]) -> str:
        subject = self._subject_template.render(
            reference=shorten(facts["reference"], _SUBJECT_REFERENCE_CHARS),
            vendor=shorten(facts["vendor"], _SUBJECT_VENDOR_CHARS),
            vendor_known=facts["vendor_known"],
            reminder=facts["reminder"],
        )
        return shorten(clean_line(subject), SUBJECT_MAX_CHARS)

    def email(
        self, invoice: InvoiceView, reminder: bool = False, take_link: str | None = None
    ) -> RenderedEmail:
        """Subject, HTML and plain-text parts of the review e-mail (or of a reminder)."""
        facts = {**self._facts(invoice), "reminder": reminder, "take_link": take_link}
        subject = self._subject(facts)
        return RenderedEmail(
            subject=subject,
            html=self._html_template.render(facts, subject=subject),
            text=self._text_template.render(facts, subject=subject),
        )

    def sms(
        self, invoice: InvoiceView, reminder: bool = False, reply_code: int | None = None
    ) -> str:
        """SMS body; only the vendor is shortened to fit the segment limit.

        With a `reply_code` it ends "Reply 2 to take it." (never cut, like the link).
        """
        facts = self._facts(invoice)
        template = self._sms_template
        amount, link = facts["amount"], facts["link"]

        def build(vendor: str) -> str:
            return template.render(
                vendor=vendor, amount=amount, link=link, reminder=reminder, reply_code=reply_code
            ).strip()

        return fit_sms(build, facts["vendor"], self._sms_max_segments)

    # -- follow-ups: somebody took the invoice -----------------------------------

    def _taken_facts(self, invoice: InvoiceView, taken_by: str) -> dict[str, Any]:
        facts = self._facts(invoice)
        facts["reference"] = shorten(facts["reference"], _SUBJECT_REFERENCE_CHARS)
        return {**facts, "taken_by": shorten(clean_line(taken_by), _SUBJECT_VENDOR_CHARS)}

    def taken_email(self, invoice: InvoiceView, taken_by: str) -> RenderedEmail:
        """The short email telling the others who took the invoice."""
        facts = self._taken_facts(invoice, taken_by)
        subject = shorten(f"Invoice {facts['reference']} is taken", SUBJECT_MAX_CHARS)
        return RenderedEmail(
            subject=subject,
            html=self._taken_html.render(facts, subject=subject),
            text=self._taken_text.render(facts, subject=subject),
        )

    def taken_sms(self, invoice: InvoiceView, taken_by: str) -> str:
        """The short SMS telling the others who took the invoice."""
        facts = self._taken_facts(invoice, taken_by)
        return self._taken_sms.render(facts).strip()

    def taken_teams(self, invoice: InvoiceView, taken_by: str) -> CardMessage:
        """The Teams card telling the others who took the invoice."""
        facts = self._taken_facts(invoice, taken_by)
        return teams.taken_card(facts["reference"], facts["taken_by"], facts["link"])

    def slack(
        self,
        invoice: InvoiceView,
        waited_seconds: float | None = None,
        take_link: str | None = None,
        take_token: str | None = None,
    ) -> ChatMessage:
        """The Slack message for one invoice (a reminder says how long it has waited); a
        `take_token` makes its take button Slack's own instead of the `take_link`."""
        waited = None if waited_seconds is None else slack.waited(waited_seconds)
        facts = {**self._facts(invoice), "take_link": take_link, "take_token": take_token}
        return slack.invoice_message(facts, waited)

    def digest_slack(self, invoices: Sequence[InvoiceView]) -> ChatMessage:
        """One Slack message for several invoices: count, totals, the first 20, the queue."""
        facts = self._digest_facts(invoices)
        return slack.digest_message(
            facts["count"], facts["totals"], facts["listed"], facts["unlisted"], facts["queue_link"]
        )

    def teams(
        self,
        invoice: InvoiceView,
        waited_seconds: float | None = None,
        take_link: str | None = None,
    ) -> CardMessage:
        """The Teams card for one invoice (a reminder says how long it has waited)."""
        waited = None if waited_seconds is None else slack.waited(waited_seconds)
        return teams.invoice_card({**self._facts(invoice), "take_link": take_link}, waited)

    def digest_teams(self, invoices: Sequence[InvoiceView]) -> CardMessage:
        """One Teams card for several invoices: count, totals, the first 20, the queue."""
        facts = self._digest_facts(invoices)
        return teams.digest_card(
            facts["count"], facts["totals"], facts["listed"], facts["unlisted"], facts["queue_link"]
        )

    def _digest_facts(self, invoices: Sequence[InvoiceView]) -> dict[str, Any]:
        listed = [self._facts(invoice) for invoice in invoices[:DIGEST_LISTED]]
        for facts in listed:
            facts["vendor"] = shorten(facts["vendor"], _SUBJECT_VENDOR_CHARS)
        return {
            "count": len(invoices),
            "totals": self.totals(invoices),
            "listed": listed,
            "unlisted": max(0, len(invoices) - DIGEST_LISTED),
            "queue_link": self._queue_link,
        }

    def totals(self, invoices: Sequence[InvoiceView]) -> str:
        """The amounts per currency, largest first ("12,500.00 USD, 300.00 EUR")."""
        sums: dict[str, Decimal] = {}
        unknown = 0
        for invoice in invoices:
            currency = clean_line(invoice.currency).upper() or self._default_currency
            try:
                amount = Decimal(invoice.total_amount) if invoice.total_amount else None
            except InvalidOperation:
                amount = None
            if amount is None or not amount.is_finite():
                unknown += 1
                continue
            sums[currency] = sums.get(currency, Decimal(0)) + amount
        parts = [
            format_amount(str(total), currency)
            for currency, total in sorted(sums.items(), key=lambda item: -item[1])
        ]
        if unknown:
            parts.append(f"{unknown} without an amount")
        return ", ".join(parts) or UNKNOWN_AMOUNT

    def digest_email(self, invoices: Sequence[InvoiceView]) -> RenderedEmail:
        """One email for several invoices: the count, totals per currency, the first 20."""
        facts = self._digest_facts(invoices)
        subject = shorten(
            clean_line(f"{facts['count']} invoices need review ({facts['totals']})"),
            SUBJECT_MAX_CHARS,
        )
        return RenderedEmail(
            subject=subject,
            html=self._digest_html.render(facts, subject=subject),
            text=self._digest_text.render(facts, subject=subject),
        )

    def digest_sms(self, invoices: Sequence[InvoiceView]) -> str:
        """One SMS for several invoices: count, totals and the review queue's link.

        Only the totals are shortened to fit the segment limit; the link is never cut.
        """
        facts = self._digest_facts(invoices)
        template = self._digest_sms

        def build(totals: str) -> str:
            return template.render(
                count=facts["count"], totals=totals, link=facts["queue_link"]
            ).strip()

        return fit_sms(build, facts["totals"], self._sms_max_segments)
