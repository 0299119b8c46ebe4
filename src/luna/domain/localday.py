"""Local calendar days for members who live (and travel) in different timezones.

A habit log belongs to a *local day* fixed at the moment it is logged, in the zone the member was
in at the time. Late-night completions count for the previous day, because "I did it" said at
01:30 means the evening that has not ended yet for the speaker.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DAY_START = time(3, 0)
"""Wall time at which a member's day turns over (before it, it is still "yesterday")."""

_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``; ValueError if it does not exist."""
    try:
        return ZoneInfo(name)
    # ZoneInfo signals a bad key in several ways (missing file, directory, unsafe path, non-str).
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError) as exc:
        raise ValueError(f"unknown timezone: {name!r}") from exc


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")


def local_now(instant: datetime, tz: str) -> datetime:
    """``instant`` as an aware datetime on the wall clock of ``tz``."""
    _require_aware(instant)
    return instant.astimezone(zone(tz))


def local_date(instant: datetime, tz: str, day_start: time = DEFAULT_DAY_START) -> date:
    """The member's local day for ``instant``; before ``day_start`` it is the previous date."""
    local = local_now(instant, tz)
    if local.time() < day_start.replace(tzinfo=None):
        return local.date() - timedelta(days=1)
    return local.date()


def combine_local(day: date, at: time, tz: str) -> datetime:
    """The aware instant at which the wall clock of ``tz`` shows ``at`` on ``day``.

    A time skipped by a DST gap is pushed forward by the size of the gap (02:30 becomes 03:30),
    so a reminder still fires rather than vanishing; a repeated time resolves to its first
    occurrence (fold=0), so it fires once, early.
    """
    local_zone = zone(tz)
    wall = datetime.combine(day, at.replace(tzinfo=None)).replace(tzinfo=local_zone, fold=0)
    # zoneinfo keeps a nonexistent wall time as-is; the UTC round trip normalises it onto the clock.
    return wall.astimezone(UTC).astimezone(local_zone)


def require_day(value: object, name: str) -> None:
    """ValueError unless ``value`` is a plain date (a local day), not a datetime."""
    # datetime subclasses date but cannot be compared with it; a datetime here means the caller
    # skipped the local-day conversion. ValueError (not TypeError) because services translate
    # ValueError from the domain into user-facing errors.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} must be a date (a local day), got {value!r}")  # noqa: TRY004


def parse_hhmm(text: str) -> time:
    """Parse a 24-hour ``"HH:MM"`` wall time such as ``"18:30"``."""
    match = _HHMM.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return time(int(match.group(1)), int(match.group(2)))
