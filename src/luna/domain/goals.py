"""Goal progress and default target dates."""

from __future__ import annotations

import calendar
import math
from datetime import date, timedelta
from enum import StrEnum


class Timeframe(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    LONG_TERM = "long_term"


def progress(current: float | None, target: float | None, baseline: float = 0.0) -> int:
    """Percent of the way from ``baseline`` to ``target``, 0..100, rounded down.

    Works in either direction (weight 90 -> 80 is a decreasing goal). Rounding down means 100
    is only said when the target is actually reached.
    """
    for value in (current, target, baseline):
        if value is not None and not math.isfinite(value):
            raise ValueError("goal values must be finite numbers")
    if current is None or target is None or target == baseline:
        return 0
    if current == target:
        return 100
    percent = (current - baseline) / (target - baseline) * 100
    # Round away float noise first: 0.29 * 100 is 28.999999999999996, which must read as 29.
    return max(0, min(100, math.floor(round(percent, 9))))


def default_target_date(timeframe: Timeframe, today: date) -> date | None:
    """The last day of the period containing ``today`` (weeks end on Sunday); None for long-term."""
    timeframe = Timeframe(timeframe)
    if timeframe is Timeframe.DAILY:
        return today
    if timeframe is Timeframe.WEEKLY:
        return today + timedelta(days=6 - today.weekday())
    if timeframe is Timeframe.MONTHLY:
        return _month_end(today.year, today.month)
    if timeframe is Timeframe.QUARTERLY:
        return _month_end(today.year, (today.month - 1) // 3 * 3 + 3)
    if timeframe is Timeframe.YEARLY:
        return date(today.year, 12, 31)
    return None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
