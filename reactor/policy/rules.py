"""The rules file (NOTIFICATION_RULES_FILE): who is told about which invoice.

Read with `tomllib` and checked field by field at start-up; a mistake stops the
service with one line naming the file, the rule and the field. Without a file one
implicit rule, `default`, tells every NOTIFICATION_RECIPIENTS entry about every
invoice.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reactor.policy.business_hours import (
    BusinessHours,
    WorkingHours,
    fits,
    parse_business_hours,
)
from reactor.policy.durations import parse_duration
from reactor.policy.quiet import QuietHours
from reactor.policy.recipients import (
    Recipient,
    RecipientList,
    parse_locale,
    parse_recipient,
    parse_recipients,
)
from reactor.support.masking import mask_recipient

DEFAULT_RULE = "default"
RULE_FIELDS = {"name", "notify", "min_amount", "max_amount", "currency", "vendor", "follow_up"}
# `business_hours` counts an `after` / `escalate_after` delay in working time only.
HOURS_FIELD = "business_hours"
# A rule with one of them is a reminder. `escalate_after` is `after` said for an
# escalation: like every reminder, it is sent only if nobody has taken the invoice.
REMINDER_FIELDS = ("after", "before_due", "escalate_after")
NOTICE = "notice"
RECIPIENT_FIELDS = {"address", "timezone", "quiet_hours", "locale"}


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file, rule and field."""


@dataclass(frozen=True)
class RecipientDetails:
    """What the file says about one recipient beyond its address."""

    recipient: Recipient
    timezone: str
    quiet_hours: tuple[time, time] | None = None  # local start and end; SMS only
    locale: str | None = None  # its messages' language and formats (Babel's `de_DE`)


@dataclass(frozen=True)
class Rule:
    """One rule: whom to tell, and the conditions an invoice must meet (all of them)."""

    name: str
    notify: tuple[Recipient, ...]
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    currencies: tuple[str, ...] = ()  # upper-case ISO codes; empty: any
    vendors: tuple[str, ...] = ()  # lower-case globs (* and ?); empty: any
    timing: str = NOTICE  # or "after" (entering review) / "before_due" (the due date)
    offset: timedelta | None = None  # a reminder's `after` or `before_due`
    follow_up: bool = True  # told who took an invoice (email, SMS, Teams)
    business_hours: BusinessHours | None = None  # `after` counted in these hours only

    @property
    def step(self) -> str:
        """The policy step its rows are: `notice`, or the reminder's timing."""
        if self.offset is None:
            return NOTICE
        return f"{self.timing} {int(self.offset.total_seconds())}s"

    @property
    def has_condition(self) -> bool:
        """Whether the rule looks at the invoice's amount, currency or vendor."""
        return bool(
            self.min_amount is not None
            or self.max_amount is not None
            or self.currencies
            or self.vendors
        )


@dataclass(frozen=True)
class Rules:
    """The rules in file order (the first that names a recipient is the one recorded)."""

    rules: tuple[Rule, ...]
    recipients: dict[str, RecipientDetails]
    source: str  # the file, or NOTIFICATION_RECIPIENTS for the implicit rule

    def locales(self) -> dict[str, str]:
        """Each recipient's own locale, where the file gives one."""
        return {a: d.locale for a, d in self.recipients.items() if d.locale is not None}

    def quiet_hours(self) -> QuietHours:
        """Every recipient's quiet hours, for the senders."""
        return QuietHours(
            {
                address: (d.timezone, *d.quiet_hours)
                for address, d in self.recipients.items()
                if d.quiet_hours is not None
            }
        )

    def working_hours(self, default_timezone: str) -> WorkingHours:
        """The business-hours rules and every recipient's time zone, for the senders."""
        return WorkingHours(
            {
                rule.name: (rule.offset, rule.business_hours)
                for rule in self.rules
                if rule.business_hours is not None and rule.offset is not None
            },
            {address: d.timezone for address, d in self.recipients.items()},
            default_timezone,
        )


def implicit_rules(recipients: RecipientList) -> Rules:
    """No rules file: every recipient hears about every invoice."""
    rule = Rule(DEFAULT_RULE, recipients.recipients)
    return Rules((rule,), {}, "NOTIFICATION_RECIPIENTS")


class _Reader:
    """Checks one file's tables; every error carries where it was found."""

    def __init__(self, path: Path, region: str, default_timezone: str) -> None:
        self.path = path
        self.region = region
        self.default_timezone = default_timezone
        self.where = ""

    def fail(self, field: str, message: str) -> RulesError:
        place = f"{self.where}: " if self.where else ""
        return RulesError(f"NOTIFICATION_RULES_FILE ({self.path}): {place}{field}: {message}")

    def recipient(self, field: str, entry: object) -> Recipient:
        if not isinstance(entry, str):
            raise self.fail(field, f"{entry!r} is not a string")
        parsed = parse_recipient(entry, self.region)
        if parsed is None:
            raise self.fail(
                field,
                f"{mask_recipient(entry)} is neither a valid email address nor a phone number",
            )
        return parsed

    def strings(self, field: str, value: object) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise self.fail(field, "must be a string or a list of strings")
        return tuple(items)

    def amount(self, field: str, value: object) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(field, f"{value!r} is not a number")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(field, f"{value!r} is not a number") from None
        if not amount.is_finite():
            raise self.fail(field, f"{value!r} is not a number")
        return amount

    def unknown(self, table: dict[str, Any], known: set[str]) -> None:
        for key in table:
            if key not in known:
                raise self.fail(key, f"unknown field (known: {', '.join(sorted(known))})")

    def details(self, number: int, table: object) -> RecipientDetails:
        self.where = f"recipient #{number}"
        if not isinstance(table, dict):
            raise self.fail("recipient", "must be a table ([[recipient]])")
        self.unknown(table, RECIPIENT_FIELDS)
        if "address" not in table:
            raise self.fail("address", "required")
        recipient = self.recipient("address", table["address"])
        zone = table.get("timezone", self.default_timezone)
        if not isinstance(zone, str) or not valid_timezone(zone):
            raise self.fail("timezone", f"{zone!r} is not an IANA time zone (e.g. Europe/Paris)")
        quiet = table.get("quiet_hours")
        try:
            span = parse_quiet_hours(quiet) if quiet is not None else None
        except ValueError as error:
            raise self.fail("quiet_hours", str(error)) from None
        locale = table.get("locale")
        if locale is not None:
            try:
                locale = parse_locale(locale)
            except ValueError as error:
                raise self.fail("locale", str(error)) from None
        return RecipientDetails(recipient, zone, span, locale)

    def rule(self, number: int, table: object, seen: set[str]) -> Rule:
        self.where = f"rule #{number}"
        if not isinstance(table, dict):
            raise self.fail("rule", "must be a table ([[rule]])")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("name", "required (a non-empty string)")
        self.where = f"rule {name!r}"
        if name in seen:
            raise self.fail("name", "is used by an earlier rule; names must be unique")
        self.unknown(table, RULE_FIELDS | set(REMINDER_FIELDS) | {HOURS_FIELD})
        timing, offset = self.reminder(table)
        hours = self.business_hours(table, timing, offset)
        if "notify" not in table:
            raise self.fail("notify", "required (email addresses and/or phone numbers)")
        entries = self.strings("notify", table["notify"])
        notify = tuple(dict.fromkeys(self.recipient("notify", e) for e in entries))
        low = self.amount("min_amount", table.get("min_amount"))
        high = self.amount("max_amount", table.get("max_amount"))
        if low is not None and high is not None and low > high:
            raise self.fail("max_amount", "is smaller than min_amount")
        currencies = self.strings("currency", table.get("currency", []))
        for code in currencies:
            if len(code) != 3 or not code.isalpha():
                raise self.fail("currency", f"{code!r} is not a three-letter code (e.g. USD)")
        vendors = self.strings("vendor", table.get("vendor", []))
        follow_up = table.get("follow_up", True)
        if not isinstance(follow_up, bool):
            raise self.fail("follow_up", "must be true or false")
        return Rule(
            name=name,
            notify=notify,
            min_amount=low,
            max_amount=high,
            currencies=tuple(c.upper() for c in currencies),
            vendors=tuple(v.lower() for v in vendors),
            timing=timing,
            offset=offset,
            follow_up=follow_up,
            business_hours=hours,
        )

    def reminder(self, table: dict[str, Any]) -> tuple[str, timedelta | None]:
        """The rule's timing: a notice, or one reminder (`after` or `before_due`)."""
        given = [field for field in REMINDER_FIELDS if field in table]
        if not given:
            return NOTICE, None
        if len(given) > 1:
            raise self.fail(given[1], "a rule is one reminder: use two rules for two timings")
        field = given[0]
        try:
            offset = parse_duration(table[field])
        except ValueError as error:
            raise self.fail(field, str(error)) from None
        return ("after" if field == "escalate_after" else field), offset

    def business_hours(
        self, table: dict[str, Any], timing: str, offset: timedelta | None
    ) -> BusinessHours | None:
        """The rule's business hours: only for a delay after entering review."""
        if HOURS_FIELD not in table:
            return None
        if timing != "after" or offset is None:
            raise self.fail(HOURS_FIELD, "only a rule with `after` or `escalate_after` may have it")
        try:
            hours = parse_business_hours(table[HOURS_FIELD])
        except ValueError as error:
            raise self.fail(HOURS_FIELD, str(error)) from None
        if not fits(offset, hours):
            raise self.fail(HOURS_FIELD, f"{hours.text} takes over ten years to give that delay")
        return hours


def valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_quiet_hours(text: object) -> tuple[time, time]:
    """ "21:00-07:00" -> (21:00, 07:00); the span may cross midnight (HH:MM:SS works too)."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM (e.g. 21:00-07:00)")
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM (e.g. 21:00-07:00)") from None
    if start == end:
        raise ValueError(f"{text!r} is empty (start and end are the same)")
    return start, end


def load_rules(path: Path, region: str, default_timezone: str) -> Rules:
    """Read and check a rules file; raise RulesError naming the first problem."""
    reader = _Reader(path, region, default_timezone)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise reader.fail("file", f"cannot be read ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise reader.fail("file", f"is not valid TOML ({error})") from None
    for key in document:
        if key not in ("rule", "recipient"):
            raise reader.fail(key, "unknown table (expected [[rule]] and [[recipient]])")
    details: dict[str, RecipientDetails] = {}
    for number, table in enumerate(_tables(reader, document, "recipient"), 1):
        entry = reader.details(number, table)
        details[entry.recipient.address] = entry
    rules: list[Rule] = []
    for number, table in enumerate(_tables(reader, document, "rule"), 1):
        rules.append(reader.rule(number, table, {r.name for r in rules}))
    reader.where = ""
    if not rules:
        raise reader.fail("rule", "the file has no [[rule]]: nobody would be told anything")
    return Rules(tuple(rules), details, str(path))


def _tables(reader: _Reader, document: dict[str, Any], key: str) -> list[object]:
    tables = document.get(key, [])
    if not isinstance(tables, list):
        raise reader.fail(key, f"must be an array of tables ([[{key}]])")
    return tables


def configured_rules(
    rules_file: Path | None, recipients: str, region: str, default_timezone: str
) -> Rules:
    """The rules file, checked; without one, NOTIFICATION_RECIPIENTS must name someone."""
    if rules_file is not None:
        return load_rules(rules_file, region, default_timezone)
    parsed = parse_recipients(recipients, region)
    if not parsed.recipients:
        if not recipients.strip():
            raise ValueError(
                "NOTIFICATION_RECIPIENTS: required (emails and/or phone numbers, "
                "comma-separated) unless NOTIFICATION_RULES_FILE is set"
            )
        raise ValueError("NOTIFICATION_RECIPIENTS: has no valid email address or phone number")
    return implicit_rules(parsed)
