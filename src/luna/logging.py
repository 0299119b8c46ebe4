"""structlog setup: pretty in development, JSON in production, phone numbers and secrets masked."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

from luna.config import Settings

_PHONE = re.compile(r"\+\d{7,15}")
_SECRET_KEYS = ("token", "secret", "password", "authorization", "api_key", "auth")


def _mask_phone(match: re.Match[str]) -> str:
    digits = match.group(0)
    return digits[:2] + "•" * (len(digits) - 6) + digits[-4:]


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _PHONE.sub(_mask_phone, value)
    if isinstance(value, dict):
        return {k: ("***" if _is_secret(k) else scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _is_secret(key: object) -> bool:
    return isinstance(key, str) and any(s in key.lower() for s in _SECRET_KEYS)


def _privacy(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = "***" if _is_secret(key) else scrub(event[key])
    return event


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json or settings.env == "prod"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _privacy,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            level if isinstance(level, int) else 20
        ),
        cache_logger_on_first_use=False,
    )
