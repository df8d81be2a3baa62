"""The console's small helpers: posted forms, list filters, safe redirects, times."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request

from reactor.http.bodies import read_limited
from reactor.support.masking import mask_recipient

FORM_LIMIT = 64 * 1024
# On every console answer: nothing from elsewhere, no framing, no referrer outside.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


async def posted(request: Request) -> dict[str, str]:
    """A URL-encoded form (the console's only kind), at most 64 KiB; junk reads as empty."""
    body = await read_limited(request, FORM_LIMIT)
    if body is None:
        return {}
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return {}


def list_filters(params: Any) -> tuple[dict[str, Any], str | None]:
    """The list's filters from the query string; a message when one is not valid."""

    def value(name: str) -> str | None:
        text = (params.get(name) or "").strip()
        return text or None

    filters: dict[str, Any] = {
        "status": value("status"),
        "method": value("channel"),
        "rule": value("rule"),
        "vendor": value("vendor"),
        "invoice_id": None,
        "since": None,
        "until": None,
        "before": None,
        "taken": {"yes": True, "no": False}.get(value("taken") or ""),
    }
    try:
        if value("invoice"):
            filters["invoice_id"] = UUID(value("invoice") or "")
        for name in ("since", "until"):
            if value(name):
                filters[name] = datetime.fromisoformat(value(name) or "")
        if value("before"):
            filters["before"] = int(value("before") or "")
    except ValueError:
        return filters, "a filter is not valid (invoice: a UUID; times: YYYY-MM-DD or ISO 8601)"
    return filters, None


def safe_next(request: Request, form: dict[str, str] | None = None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    target = (form or {}).get("next") or request.query_params.get("next") or "/console/"
    return target if target.startswith("/console/") and "//" not in target else "/console/"


def when(moment: datetime | None) -> str:
    """A time as the pages show it."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def page_templates() -> Environment:
    """The console's templates (autoescaped), with its `masked` and `when` filters."""
    templates = Environment(
        loader=PackageLoader("reactor.http.console", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2")),
    )
    templates.filters["masked"] = mask_recipient
    templates.filters["when"] = when
    return templates
