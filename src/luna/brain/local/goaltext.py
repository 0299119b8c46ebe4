"""What a goal says about itself: "run 500 miles this year" is a measurable fitness goal of
500 miles over a year. Pure text work for the CreateGoal handler."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from luna.brain.local import timephrase
from luna.brain.local.words import capitalize

_GOAL_HORIZON: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)[\s,]*\b(this|per|a|each|every|in a|for the)\s+year\b|\bin 20\d\d\b|"
                r"\bby (the )?end of (the )?year\b|\bthis calendar year\b"), "yearly"),
    (re.compile(r"(?i)[\s,]*\b(this|per|a|each|every|in a|for the)\s+quarter\b"), "quarterly"),
    (re.compile(r"(?i)[\s,]*\b(this|per|a|each|every|in a|for the)\s+month\b|"
                r"\bby (the )?end of (the )?month\b"), "monthly"),
    (re.compile(r"(?i)[\s,]*\b(this|per|a|each|every|in a|for the)\s+week\b|"
                r"\bby (the )?end of (the )?week\b"), "weekly"),
    (re.compile(r"(?i)[\s,]*\b(today|every day|each day|a day|per day|daily)\b"), "daily"),
]
_GOAL_BY = re.compile(r"(?i)[\s,]*\b(?:by|before)\s+(?P<when>.+)$")
_GOAL_NUMBER = re.compile(
    r"(?i)(?P<money>\$)?(?P<n>\d[\d,]*(?:\.\d+)?)\s*(?P<k>k\b)?\s*(?P<unit>[a-z%$]+)?"
)
_CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("fitness", re.compile(r"(?i)\b(run|ran|running|walk|walking|hike|hiking|swim|swimming|bike|"
                           r"biking|cycle|cycling|miles?|km|kilometers?|marathon|5k|10k|steps|gym|"
                           r"workouts?|push ?ups?|squats?|pull ?ups?|lift|bench|yoga|exercise)\b")),
    ("financial", re.compile(r"(?i)(\$|\b(save|saving|savings|dollars?|bucks|money|debt|budget|"
                             r"invest|pay off|emergency fund)\b)")),
    ("health", re.compile(r"(?i)\b(lose|weight|pounds?|lbs?|kg|sleep|water|eat|eating|diet|"
                          r"sugar|meditate|meditation|smoking|drink|alcohol|healthy|vegetables)\b")),
    ("learning", re.compile(r"(?i)\b(read|reading|books?|learn|learning|study|course|class|"
                            r"spanish|french|language|piano|guitar|practice|write|writing)\b")),
    ("work", re.compile(r"(?i)\b(work|job|career|promotion|clients?|sales|project)\b")),
    ("relationships", re.compile(r"(?i)\b(family|friends?|date night|kids|call mom|call dad|"
                                 r"partner|wife|husband)\b")),
]


def goal_parts(text: str, today: date) -> dict[str, Any] | None:
    """"run 500 miles this year" → title, timeframe, category, target and unit."""
    value = text.strip(" .!?")
    timeframe = None
    for pattern, frame in _GOAL_HORIZON:
        hit = pattern.search(value)
        if hit:
            timeframe = frame
            value = (value[: hit.start()] + value[hit.end():]).strip(" ,")
            break
    target_date = None
    by = _GOAL_BY.search(value)
    if by:
        when = timephrase.parse(by.group("when"))
        month = _month_end(by.group("when"), today)
        day = timephrase.resolve_day(when.day, today) if when and when.day else None
        if day is not None:
            target_date = day.isoformat()
        elif month is not None:
            target_date = month
        if target_date is not None:
            value = value[: by.start()].strip(" ,")
    target = unit = None
    num = _GOAL_NUMBER.search(value)
    if num:
        amount = float(num.group("n").replace(",", ""))
        if num.group("k"):
            amount *= 1000
        target = int(amount) if amount.is_integer() else amount
        unit = "dollars" if num.group("money") else num.group("unit")
        if unit is None and re.search(r"(?i)\b(save|saving)\b", value):
            unit = "dollars"
    title = capitalize(re.sub(r"\s+", " ", value).strip(" ,"))
    if not title:
        return None
    category = next((c for c, p in _CATEGORIES if p.search(text)), None)
    return {"title": title, "timeframe": timeframe, "category": category,
            "target_value": target, "unit": unit, "target_date": target_date}


_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")


def _month_end(text: str, today: date) -> str | None:
    """"june", "the end of june", "summer" → the last day of that month (this year or next)."""
    low = text.lower().strip(" .!")
    low = re.sub(r"^(the )?end of ", "", low)
    starts = {"summer": (6, 21), "the summer": (6, 21), "spring": (3, 20), "fall": (9, 22),
              "autumn": (9, 22), "winter": (12, 21), "christmas": (12, 25)}
    if low in starts:
        m, d = starts[low]
        day = date(today.year, m, d)
        return (day if day >= today else date(today.year + 1, m, d)).isoformat()
    month = None
    if month is None and low in _MONTH_NAMES:
        month = _MONTH_NAMES.index(low) + 1
    if month is None:
        return None
    year = today.year if month >= today.month else today.year + 1
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return (first_next - timedelta(days=1)).isoformat()
