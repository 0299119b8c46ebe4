"""Turn what people write for a time ("tomorrow at 3pm", "2026-03-05T15:00") into an instant.

dateparser is used the safe way (reference/dependencies.md §6): a naive base in the member's
zone, a naive result, and zoneinfo attached by us, so DST offsets come out right.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from luna.errors import InvalidInput

_IN_DELTA = re.compile(
    r"^\s*in\s+(an?|\d+)\s+(minute|min|hour|hr|day|week)s?\s*$", re.IGNORECASE
)
_UNITS = {"minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 604800}


@lru_cache(maxsize=1)
def _dateparser() -> Any:
    import dateparser  # imported lazily: its first use loads language data (~200 ms)

    return dateparser


def warm_up() -> None:
    _dateparser().parse("tomorrow at 5pm", languages=["en"])


def parse_when(text: str, tz: str, now: datetime, *, default_time: time = time(9, 0)) -> datetime:
    """An aware instant for `text` in zone `tz`; InvalidInput when it can't be read."""
    zi = ZoneInfo(tz)
    value = text.strip()
    if not value:
        raise InvalidInput("an empty time was given")
    iso = _iso(value, zi, default_time)
    if iso is not None:
        return iso
    rel = _IN_DELTA.match(value)
    if rel:
        n = 1 if rel.group(1).lower() in {"a", "an"} else int(rel.group(1))
        # Exact arithmetic on the instant, so "in 2 hours" is right across a DST jump.
        return now + timedelta(seconds=n * _UNITS[rel.group(2).lower()])
    base = now.astimezone(zi).replace(tzinfo=None)
    parsed = _dateparser().parse(
        value,
        languages=["en"],
        settings={
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        raise InvalidInput(f"I couldn't understand the time {text!r}")
    naive: datetime = parsed
    has_time = bool(re.search(r"\d\s*(am|pm)|\d:\d|noon|midnight|morning|evening|night|tonight"
                              r"|afternoon|\bat\b", value, re.IGNORECASE))
    if not has_time:
        naive = datetime.combine(naive.date(), default_time)
    return attach(naive, zi)


def parse_day(text: str, tz: str, now: datetime) -> date:
    """A local calendar date for `text` ("today", "next friday", "2026-03-05")."""
    value = text.strip().lower()
    local_today = now.astimezone(ZoneInfo(tz)).date()
    if value == "today":
        return local_today
    if value == "yesterday":
        return local_today - timedelta(days=1)
    if value == "tomorrow":
        return local_today + timedelta(days=1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    return parse_when(text, tz, now).astimezone(ZoneInfo(tz)).date()


def attach(naive: datetime, zi: ZoneInfo) -> datetime:
    """Attach a zone to a wall time; a time inside a DST gap moves forward by the gap."""
    aware = naive.replace(tzinfo=zi)
    round_trip = aware.astimezone(ZoneInfo("UTC")).astimezone(zi)
    if round_trip.replace(tzinfo=None) != naive:
        return round_trip
    return aware


def _iso(value: str, zi: ZoneInfo, default_time: time) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if len(value) == 10:  # a bare date
        dt = datetime.combine(dt.date(), default_time)
    if dt.tzinfo is None:
        return attach(dt, zi)
    return dt
