"""structlog set-up: JSON lines off a terminal, colour on one, personal data masked.

Standard-library logging (uvicorn, the provider SDKs) is routed through the same
processors, so the masking applies to every line whoever logged it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from reactor.masking import mask_value

SERVICE = "invoice-reactor"

# The SDKs log whole requests (recipients, message bodies) at INFO and DEBUG.
_CHATTY_LOGGERS = ("twilio", "twilio.http_client", "python_http_client", "urllib3", "sendgrid")


def _mask_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: mask_value(value) for key, value in event_dict.items()}


def _add_service(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("service", SERVICE)
    return event_dict


def configure_logging(level: str = "INFO", json_lines: bool | None = None) -> None:
    """Configure structlog and standard logging for the whole process."""
    if json_lines is None:
        json_lines = not sys.stdout.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service,
        structlog.processors.format_exc_info,
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
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
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
