"""structlog set-up: JSON lines off a terminal, colour on one, personal data masked.

Standard-library logging (uvicorn, the provider SDKs) is routed through the same
processors, so the masking applies to every line whoever logged it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import structlog

from reactor.support.masking import mask_text, mask_value

SERVICE = "invoice-reactor"

# The SDKs log whole requests (recipients, message bodies) at INFO and DEBUG.
_CHATTY_LOGGERS = (
    "twilio",
    "twilio.http_client",
    "python_http_client",
    "urllib3",
    "sendgrid",
    "httpx",
    "httpcore",
    # Alembic says "Context impl PostgresqlImpl." and each revision at INFO on every start
    "alembic",
)

# uvicorn's "server started" and request-level lines come from a logger it calls
# "uvicorn.error"; they are not errors.
_RENAMED_LOGGERS = {"uvicorn.error": "uvicorn.server"}


_CREDENTIAL_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [REDACTED]"),
    (re.compile(r"(?i)(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*):[^@\s]*@"), r"\1:[REDACTED]@"),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]+)?"), "[REDACTED]"),
)


class SecretRedactor:
    """Replaces known secret values, and anything shaped like a credential, in every field."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, value: Any) -> Any:
        """The value with secrets replaced (recursing into containers)."""
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, "[REDACTED]")
            for pattern, replacement in _CREDENTIAL_PATTERNS:
                value = pattern.sub(replacement, value)
            return value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact(v) for v in value)
        return value

    def __call__(self, _: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return {key: self.redact(value) for key, value in event_dict.items()}


def text_redactor(secrets: Iterable[str] = ()) -> Callable[[str], str]:
    """What log lines get, for one text: secrets replaced, addresses and numbers masked."""
    redactor = SecretRedactor(secrets)
    return lambda text: mask_text(redactor.redact(text))


def _mask_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: mask_value(value) for key, value in event_dict.items()}


def _plain_stdlib_fields(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop uvicorn's ANSI-coloured duplicate of the message; give loggers honest names."""
    event_dict.pop("color_message", None)
    name = event_dict.get("logger")
    if name in _RENAMED_LOGGERS:
        event_dict["logger"] = _RENAMED_LOGGERS[name]
    return event_dict


def _add_service(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("service", SERVICE)
    return event_dict


def configure_logging(
    level: str = "INFO", json_lines: bool | None = None, secrets: Iterable[str] = ()
) -> None:
    """Configure structlog and standard logging for the whole process.

    `secrets` are values that must never be printed (API keys, tokens, passwords).
    """
    if json_lines is None:
        json_lines = not sys.stdout.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service,
        structlog.processors.format_exc_info,
        SecretRedactor(secrets),
        _mask_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared, _plain_stdlib_fields],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
