"""Renders every message from Jinja templates, in the reader's locale.

The templates are the built-in ones (`messages/templates/`), each overridable by name
from TEMPLATES_DIR. They run in Jinja's sandbox (no attribute of Python's internals, no
file, no setting, no environment), with autoescaping in HTML, and translated through
gettext (`_()` and `ngettext()`, the catalogs of `messages/locale/`).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

from babel.dates import format_timedelta
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reactor.domain.messages import CardMessage, ChatMessage, InvoiceView, RenderedEmail
from reactor.messages import slack, teams
from reactor.messages.amounts import UNKNOWN_AMOUNT, format_amount
from reactor.messages.locales import DEFAULT_LOCALE, format_count, format_day, translations
from reactor.messages.skeletons import Skeleton, shape, skeleton
from reactor.messages.sms import fit_sms, is_gsm, sms_spaces

__all__ = ["UNKNOWN_AMOUNT", "MessageRenderer", "clean_line", "format_amount", "shorten"]

SUBJECT_MAX_CHARS = 150
DIGEST_LISTED = 20  # a digest email lists this many invoices; the rest are counted
# Caps inside the subject so a huge vendor or number cannot crowd out the rest.
_SUBJECT_VENDOR_CHARS = 60
_SUBJECT_REFERENCE_CHARS = 40

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


def template_loader(templates_dir: Path | None) -> BaseLoader:
    """TEMPLATES_DIR's templates first (by name), then the built-in ones."""
    builtin = PackageLoader("reactor.messages", "templates")
    if templates_dir is None:
        return builtin
    return ChoiceLoader([FileSystemLoader(str(templates_dir)), builtin])


def template_environment(loader: BaseLoader, locale: str) -> Environment:
    """The sandboxed, autoescaping environment of one locale, its catalog installed."""
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,  # compiled once: no stat() of the template per message
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


class MessageRenderer:
    """Renders notifications; create once and reuse (templates are compiled once per locale)."""

    def __init__(
        self,
        frontend_base_url: str,
        invoice_path: str = "/invoices/{id}",
        default_currency: str = "USD",
        sms_max_segments: int = 1,
        review_queue_path: str = "/invoices?status=NEEDS_REVIEW",
        default_locale: str = DEFAULT_LOCALE,
        templates_dir: Path | None = None,
    ) -> None:
        self._base_url = frontend_base_url.rstrip("/")
        self._queue_link = self._base_url + review_queue_path
        self._invoice_path = invoice_path
        self._default_currency = default_currency
        self.sms_max_segments = sms_max_segments
        self.default_locale = default_locale
        self._loader = template_loader(templates_dir)
        self._environments: dict[str, Environment] = {}
        # The built-in SMS template, rendered once per locale and shape (skeletons.py).
        self._builtin_sms = templates_dir is None or not (templates_dir / "sms.txt.j2").is_file()
        self._skeletons: dict[tuple[str, bool, tuple[bool, ...]], Skeleton | None] = {}

    def environment(self, locale: str | None = None) -> Environment:
        """The templates' environment for a locale (made once)."""
        locale = locale or self.default_locale
        env = self._environments.get(locale)
        if env is None:
            env = self._environments[locale] = template_environment(self._loader, locale)
        return env

    def template(self, name: str, locale: str | None = None) -> Template:
        """A template (TEMPLATES_DIR's or the built-in one) for a locale."""
        return self.environment(locale).get_template(name)

    def _sms_text(
        self, locale: str, values: dict[str, str], reminder: bool, reply_code: int | None
    ) -> str:
        """The SMS template rendered: the built-in one from its skeleton (skeletons.py)."""
        if not self._builtin_sms:  # TEMPLATES_DIR's: it may do anything with its values
            template = self.template("sms.txt.j2", locale)
            return template.render(**values, reminder=reminder, reply_code=reply_code)
        values = {**values, "reply_code": str(reply_code) if reply_code else ""}
        key = (locale, reminder, shape(values))
        if key not in self._skeletons:
            template = self.template("sms.txt.j2", locale)
            self._skeletons[key] = skeleton(template, values, reminder=reminder)
        found = self._skeletons[key]
        if found is None:
            return self.template("sms.txt.j2", locale).render(**values, reminder=reminder)
        return found.fill(values)

    def words(self, locale: str | None) -> gettext.NullTranslations:
        """The locale's catalog (for the chat messages, which are built in Python)."""
        return translations(locale or self.default_locale)

    def link(self, invoice_id: str) -> str:
        """URL of the invoice in the frontend."""
        return self._base_url + self._invoice_path.replace("{id}", quote(invoice_id, safe=""))

    def _amount(self, invoice: InvoiceView, locale: str) -> str:
        currency = clean_line(invoice.currency).upper() or self._default_currency
        amount = format_amount(invoice.total_amount, currency, locale)
        if amount == UNKNOWN_AMOUNT:
            return self.words(locale).gettext("amount unknown")
        return amount

    def _vendor(self, invoice: InvoiceView, locale: str) -> str:
        return clean_line(invoice.vendor_name) or self.words(locale).gettext("Unknown vendor")

    def _facts(self, invoice: InvoiceView, locale: str | None) -> dict[str, Any]:
        locale = locale or self.default_locale
        number = clean_line(invoice.invoice_number)
        return {
            "invoice_id": clean_line(invoice.invoice_id),
            "invoice_number": number,
            "reference": number or clean_line(invoice.invoice_id),
            "vendor": self._vendor(invoice, locale),
            "vendor_known": bool(clean_line(invoice.vendor_name)),
            "amount": self._amount(invoice, locale),
            "due_date": format_day(invoice.due_date, locale),
            "link": self.link(invoice.invoice_id),
            "language": locale.split("_")[0],
        }

    def _subject(self, facts: dict[str, Any], locale: str | None) -> str:
        subject = self.template("email_subject.txt.j2", locale).render(
            reference=shorten(facts["reference"], _SUBJECT_REFERENCE_CHARS),
            vendor=shorten(facts["vendor"], _SUBJECT_VENDOR_CHARS),
            vendor_known=facts["vendor_known"],
            reminder=facts["reminder"],
        )
        return shorten(clean_line(subject), SUBJECT_MAX_CHARS)

    def email(
        self,
        invoice: InvoiceView,
        reminder: bool = False,
        take_link: str | None = None,
        locale: str | None = None,
    ) -> RenderedEmail:
        """Subject, HTML and plain-text parts of the review e-mail (or of a reminder)."""
        facts = {**self._facts(invoice, locale), "reminder": reminder, "take_link": take_link}
        subject = self._subject(facts, locale)
        return RenderedEmail(
            subject=subject,
            html=self.template("email.html.j2", locale).render(facts, subject=subject),
            text=self.template("email.txt.j2", locale).render(facts, subject=subject),
        )

    def sms(
        self,
        invoice: InvoiceView,
        reminder: bool = False,
        reply_code: int | None = None,
        locale: str | None = None,
    ) -> str:
        """SMS body; only the vendor is shortened to fit the segment limit.

        With a `reply_code` it ends "Reply 2 to take it." (never cut, like the link).
        """
        locale = locale or self.default_locale
        amount, link = sms_spaces(self._amount(invoice, locale)), self.link(invoice.invoice_id)
        if not is_gsm(amount):  # `zł`, `₹`: the currency's code keeps the SMS in GSM-7
            currency = clean_line(invoice.currency).upper() or self._default_currency
            code = format_amount(invoice.total_amount, currency, locale, iso=True)
            amount = sms_spaces(code) if is_gsm(sms_spaces(code)) else amount

        def build(vendor: str) -> str:
            values = {"vendor": vendor, "amount": amount, "link": link}
            text = self._sms_text(locale, values, reminder, reply_code)
            return sms_spaces(text).strip()

        return fit_sms(build, self._vendor(invoice, locale), self.sms_max_segments)

    # -- follow-ups: somebody took the invoice -----------------------------------

    def _taken_facts(
        self, invoice: InvoiceView, taken_by: str, locale: str | None
    ) -> dict[str, Any]:
        facts = self._facts(invoice, locale)
        facts["reference"] = shorten(facts["reference"], _SUBJECT_REFERENCE_CHARS)
        return {**facts, "taken_by": shorten(clean_line(taken_by), _SUBJECT_VENDOR_CHARS)}

    def taken_email(
        self, invoice: InvoiceView, taken_by: str, locale: str | None = None
    ) -> RenderedEmail:
        """The short email telling the others who took the invoice."""
        facts = self._taken_facts(invoice, taken_by, locale)
        subject = self.template("taken_subject.txt.j2", locale).render(facts)
        subject = shorten(clean_line(subject), SUBJECT_MAX_CHARS)
        return RenderedEmail(
            subject=subject,
            html=self.template("taken.html.j2", locale).render(facts, subject=subject),
            text=self.template("taken.txt.j2", locale).render(facts, subject=subject),
        )

    def taken_sms(self, invoice: InvoiceView, taken_by: str, locale: str | None = None) -> str:
        """The short SMS telling the others who took the invoice."""
        facts = self._taken_facts(invoice, taken_by, locale)
        return sms_spaces(self.template("taken_sms.txt.j2", locale).render(facts)).strip()

    def taken_teams(
        self, invoice: InvoiceView, taken_by: str, locale: str | None = None
    ) -> CardMessage:
        """The Teams card telling the others who took the invoice."""
        facts = self._taken_facts(invoice, taken_by, locale)
        return teams.taken_card(
            facts["reference"], facts["taken_by"], facts["link"], self.words(locale)
        )

    # -- chat --------------------------------------------------------------------

    def _waited(self, seconds: float | None, locale: str | None) -> str | None:
        """How long an invoice has waited, in the reader's words ("3 hours", "3 Stunden")."""
        if seconds is None:
            return None
        locale = locale or self.default_locale
        if locale.startswith("en"):
            return slack.waited(seconds)
        return format_timedelta(
            int(max(60.0, seconds)), granularity="minute", threshold=2, locale=locale
        )

    def slack(
        self,
        invoice: InvoiceView,
        waited_seconds: float | None = None,
        take_link: str | None = None,
        take_token: str | None = None,
        locale: str | None = None,
    ) -> ChatMessage:
        """The Slack message for one invoice (a reminder says how long it has waited); a
        `take_token` makes its take button Slack's own instead of the `take_link`."""
        facts = {**self._facts(invoice, locale), "take_link": take_link, "take_token": take_token}
        return slack.invoice_message(
            facts,
            self._waited(waited_seconds, locale),
            self.words(locale),
        )

    def digest_slack(
        self, invoices: Sequence[InvoiceView], locale: str | None = None
    ) -> ChatMessage:
        """One Slack message for several invoices: count, totals, the first 20, the queue."""
        return slack.digest_message(self._digest_facts(invoices, locale), self.words(locale))

    def teams(
        self,
        invoice: InvoiceView,
        waited_seconds: float | None = None,
        take_link: str | None = None,
        locale: str | None = None,
    ) -> CardMessage:
        """The Teams card for one invoice (a reminder says how long it has waited)."""
        return teams.invoice_card(
            {**self._facts(invoice, locale), "take_link": take_link},
            self._waited(waited_seconds, locale),
            self.words(locale),
        )

    def digest_teams(
        self, invoices: Sequence[InvoiceView], locale: str | None = None
    ) -> CardMessage:
        """One Teams card for several invoices: count, totals, the first 20, the queue."""
        return teams.digest_card(self._digest_facts(invoices, locale), self.words(locale))

    # -- digests -------------------------------------------------------------------

    def _digest_facts(self, invoices: Sequence[InvoiceView], locale: str | None) -> dict[str, Any]:
        locale = locale or self.default_locale
        listed = [self._facts(invoice, locale) for invoice in invoices[:DIGEST_LISTED]]
        for facts in listed:
            facts["vendor"] = shorten(facts["vendor"], _SUBJECT_VENDOR_CHARS)
        unlisted = max(0, len(invoices) - DIGEST_LISTED)
        return {
            "count": len(invoices),
            "count_text": format_count(len(invoices), locale),
            "totals": self.totals(invoices, locale),
            "listed": listed,
            "unlisted": unlisted,
            "unlisted_text": format_count(unlisted, locale),
            "queue_link": self._queue_link,
            "language": locale.split("_")[0],
        }

    def totals(self, invoices: Sequence[InvoiceView], locale: str | None = None) -> str:
        """The amounts per currency, largest first ("$12,500.00, €300.00")."""
        locale = locale or self.default_locale
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
            format_amount(total, currency, locale)
            for currency, total in sorted(sums.items(), key=lambda item: -item[1])
        ]
        if unknown:
            without = translations(locale).ngettext(
                "%(num)s without an amount", "%(num)s without an amount", unknown
            )
            parts.append(without % {"num": format_count(unknown, locale)})
        return ", ".join(parts) or translations(locale).gettext("amount unknown")

    def digest_email(
        self, invoices: Sequence[InvoiceView], locale: str | None = None
    ) -> RenderedEmail:
        """One email for several invoices: the count, totals per currency, the first 20."""
        facts = self._digest_facts(invoices, locale)
        subject = self.template("digest_subject.txt.j2", locale).render(facts)
        subject = shorten(clean_line(subject), SUBJECT_MAX_CHARS)
        return RenderedEmail(
            subject=subject,
            html=self.template("digest.html.j2", locale).render(facts, subject=subject),
            text=self.template("digest.txt.j2", locale).render(facts, subject=subject),
        )

    def digest_sms(self, invoices: Sequence[InvoiceView], locale: str | None = None) -> str:
        """One SMS for several invoices: count, totals and the review queue's link.

        Only the totals are shortened to fit the segment limit; the link is never cut.
        """
        facts = self._digest_facts(invoices, locale)
        template = self.template("digest_sms.txt.j2", locale)

        def build(totals: str) -> str:
            text = template.render(
                count=facts["count"],
                count_text=facts["count_text"],
                totals=totals,
                link=facts["queue_link"],
            )
            return sms_spaces(text).strip()

        return fit_sms(build, sms_spaces(facts["totals"]), self.sms_max_segments)
