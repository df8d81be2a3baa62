"""TEMPLATES_DIR checked at start-up: each override compiles, renders safely and fits.

Every override compiles, names only the variables its template is given, keeps HTML
autoescaped, renders in the sandbox, and (SMS) fits SMS_MAX_SEGMENTS.

A problem raises TemplatesError with one line naming the file and, where there is one,
the line: `TEMPLATES_DIR (/etc/reactor/templates): sms.txt.j2 line 1: ...`.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from pathlib import Path

from jinja2 import TemplateError, TemplateSyntaxError, meta, nodes

from reactor.domain.messages import InvoiceView
from reactor.messages.renderer import MessageRenderer
from reactor.messages.sms import segments

# What each template is given (docs/templates.md lists them with their meaning).
_INVOICE = {
    "invoice_id", "invoice_number", "reference", "vendor", "vendor_known", "amount",
    "due_date", "link", "language",
}  # fmt: skip
_DIGEST = {
    "count", "count_text", "totals", "listed", "unlisted", "unlisted_text", "queue_link",
    "language",
}  # fmt: skip
VARIABLES: dict[str, set[str]] = {
    "email_subject.txt.j2": {"reference", "vendor", "vendor_known", "reminder"},
    "email.html.j2": _INVOICE | {"reminder", "take_link", "subject"},
    "email.txt.j2": _INVOICE | {"reminder", "take_link", "subject"},
    "sms.txt.j2": {"vendor", "amount", "link", "reminder", "reply_code"},
    "digest_subject.txt.j2": _DIGEST,
    "digest.html.j2": _DIGEST | {"subject"},
    "digest.txt.j2": _DIGEST | {"subject"},
    "digest_sms.txt.j2": {"count", "count_text", "totals", "link"},
    "taken_subject.txt.j2": _INVOICE | {"taken_by"},
    "taken.html.j2": _INVOICE | {"taken_by", "subject"},
    "taken.txt.j2": _INVOICE | {"taken_by", "subject"},
    "taken_sms.txt.j2": _INVOICE | {"taken_by"},
}
GETTEXT = {"_", "gettext", "ngettext"}
# The longest an invoice id (a UUID) makes a link; the longest reply code.
_SAMPLE = InvoiceView(
    "ffffffff-ffff-ffff-ffff-ffffffffffff", "INV-2026-000001", "Acme", "1250.00", "EUR",
    "2026-12-04",
)  # fmt: skip


class TemplatesError(ValueError):
    """A template of TEMPLATES_DIR that cannot be used; one line naming file and line."""


def check_templates(renderer: MessageRenderer, folder: Path, locales: Iterable[str]) -> None:
    """Raise TemplatesError for the first override that cannot be used."""
    where = f"TEMPLATES_DIR ({folder})"
    if not folder.is_dir():
        raise TemplatesError(f"{where}: is not a folder")
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    for name in names:
        if name not in VARIABLES and not name.startswith("_"):
            known = ", ".join(sorted(VARIABLES))
            raise TemplatesError(
                f"{where}: {name}: not a template name (known: {known}; "
                "a name starting with _ is a part to include)"
            )
    for name in (n for n in names if n in VARIABLES):
        problem = _static_problem(renderer, folder / name, name)
        if problem:
            raise TemplatesError(f"{where}: {name} {problem}")
    for locale in dict.fromkeys([renderer.default_locale, *locales]):
        problem = _render_problem(renderer, locale, names)
        if problem:
            raise TemplatesError(f"{where}: {problem}")


def _static_problem(renderer: MessageRenderer, path: Path, name: str) -> str | None:
    """What the source itself gets wrong: syntax, unknown variables, autoescape off."""
    source = path.read_text(encoding="utf-8", errors="replace")
    env = renderer.environment()
    try:
        tree = env.parse(source, name, str(path))
    except TemplateSyntaxError as error:
        return f"line {error.lineno}: {error.message}"
    unknown = meta.find_undeclared_variables(tree) - VARIABLES[name] - GETTEXT
    if unknown:
        first = min(
            (n for n in tree.find_all(nodes.Name) if n.name in unknown), key=lambda n: n.lineno
        )
        known = ", ".join(sorted(VARIABLES[name]))
        return f"line {first.lineno}: unknown variable {first.name!r} (known: {known})"
    if name.endswith(".html.j2"):
        for modifier in tree.find_all(nodes.EvalContextModifier):  # {% autoescape %}
            return f"line {modifier.lineno}: autoescaping cannot be turned off"
        for used in tree.find_all(nodes.Filter):
            if used.name == "safe":
                return f"line {used.lineno}: |safe would turn autoescaping off"
    return None


def _render_problem(renderer: MessageRenderer, locale: str, names: list[str]) -> str | None:
    """Render every message once, as it will be rendered; an error names its template."""
    try:
        renderer.email(_SAMPLE, reminder=True, take_link="https://x.example/take/1", locale=locale)
        renderer.digest_email([_SAMPLE, _SAMPLE], locale=locale)
        renderer.taken_email(_SAMPLE, "ap-lead@example.com", locale=locale)
        renderer.taken_sms(_SAMPLE, "ap-lead@example.com", locale=locale)
        sms = renderer.sms(_SAMPLE, reminder=True, reply_code=99, locale=locale)
        digest = renderer.digest_sms([_SAMPLE] * 9999, locale=locale)
    except TemplateError as error:
        return f"{_template_of(error, names)}{type(error).__name__}: {error}"
    except Exception as error:  # anything a template can raise: said, never a traceback
        return f"{_template_of(error, names)}{type(error).__name__}: {error}"
    limit = renderer.sms_max_segments
    for name, body in (("sms.txt.j2", sms), ("digest_sms.txt.j2", digest)):
        if segments(body) > limit:
            return (
                f"{name}: cannot fit SMS_MAX_SEGMENTS={limit} with the longest link "
                f"({segments(body)} segments in {locale}, even with the vendor cut)"
            )
    return None


def _template_of(error: BaseException, names: list[str]) -> str:
    """`name line N: ` of the template frame an error came from (Jinja rewrites
    tracebacks so that templates appear as their own files)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        name = Path(frame.filename).name
        if name in names:
            return f"{name} line {frame.lineno}: "
    return ""
