"""How often, in words: "every weekday", "every other monday", "every 3 days", "on tuesdays and
saturdays" → the schedule arguments of `create_chore`.

Found anywhere in the text; the caller gets the text with the phrase taken out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from luna.brain.local.timephrase import WEEKDAYS

_DAY_NAMES: dict[str, int] = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}
_NUMBERS: dict[str, int] = {
    "other": 2, "second": 2, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "ten": 10, "fourteen": 14, "thirty": 30,
}
_DAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?s?"
_DAY_LIST = rf"{_DAY}(?:\s*(?:,|and|&|or)\s*(?:and\s+)?{_DAY})*"
_N = r"(\d+|other|second|two|three|four|five|six|seven|ten|fourteen|thirty)"

# Order matters: the more specific phrase is tried first.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("other_weekday", re.compile(rf"\b(?:every|each)\s+(?:other|second)\s+(?P<days>{_DAY})\b")),
    ("n_weeks", re.compile(rf"\b(?:every|each)\s+{_N}\s+weeks?\b")),
    ("n_weeks", re.compile(r"\b(?P<bi>bi-?weekly|fortnightly)\b")),
    ("n_days", re.compile(rf"\b(?:every|each)\s+{_N}\s+days?\b")),
    ("weekdays", re.compile(r"\b(?:every|each|on)\s+(?:week\s?days?|work\s?days?)\b")),
    ("weekdays", re.compile(
        r"\b(?:week\s?days|mon(?:day)?\s*(?:-|to|through|thru)\s*fri(?:day)?)\b")),
    ("weekends", re.compile(r"\b(?:every|each|on)\s+(?:the\s+)?weekends?\b")),
    ("weekends", re.compile(r"\bweekends\b")),
    ("days", re.compile(rf"\b(?:every|each)\s+(?P<days>{_DAY_LIST})\b")),
    ("days", re.compile(rf"\bon\s+(?P<days>{_DAY}s(?:\s*(?:,|and|&)\s*(?:and\s+)?{_DAY}s)*)\b")),
    ("daily", re.compile(r"\b(?:every|each)\s+(?:single\s+)?(?:day|morning|night|evening)\b")),
    ("daily", re.compile(r"\b(?:daily|nightly)\b")),
    ("weekly", re.compile(r"\b(?:every|each|once\s+a)\s+week\b|\bweekly\b")),
    ("monthly", re.compile(r"\b(?:every|each|once\s+a)\s+month\b|\bmonthly\b")),
]
_FROM_DONE = re.compile(
    r"\s*\b(?:after\s+(?:it'?s|it\s+is|it\s+was)\s+(?:last\s+)?done|from\s+(?:when\s+it\s+was\s+)?"
    r"(?:last\s+)?(?:done|completion|the\s+last\s+time))\b"
)


@dataclass(frozen=True, slots=True)
class Recurrence:
    schedule: str
    """"weekly" or "every_n_days"."""
    weekdays: list[str] = field(default_factory=list)
    every_days: int | None = None
    from_completion: bool = False
    first_weekday: int | None = None
    """"every other monday" starts on the coming Monday."""


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


def _days(text: str) -> list[str]:
    found: set[int] = set()
    for word in re.findall(r"[a-z]+", text):
        idx = _DAY_NAMES.get(word)
        if idx is None and word.endswith("s"):
            idx = _DAY_NAMES.get(word[:-1])
        if idx is not None:
            found.add(idx)
    return [WEEKDAYS[i] for i in sorted(found)]


def extract(text: str) -> tuple[Recurrence | None, str]:
    """The recurrence in `text` (lower-cased match) and the text without it."""
    low = text.lower()
    for kind, pattern in _PATTERNS:
        m = pattern.search(low)
        if m is None:
            continue
        rec = _build(kind, m)
        if rec is None:
            continue
        rest = _cut(text, m.start(), m.end())
        done = _FROM_DONE.search(rest.lower())
        if done is not None and rec.schedule == "every_n_days":
            rest = _cut(rest, done.start(), done.end())
            rec = Recurrence(rec.schedule, rec.weekdays, rec.every_days, True, rec.first_weekday)
        return rec, rest
    return None, text


def _build(kind: str, m: re.Match[str]) -> Recurrence | None:
    if kind == "other_weekday":
        days = _days(m.group("days"))
        if len(days) != 1:
            return None
        return Recurrence("every_n_days", every_days=14, first_weekday=WEEKDAYS.index(days[0]))
    if kind == "n_weeks":
        n = 2 if m.groupdict().get("bi") else _number(m.group(1))
        return Recurrence("every_n_days", every_days=7 * n)
    if kind == "n_days":
        return Recurrence("every_n_days", every_days=_number(m.group(1)))
    if kind == "weekdays":
        return Recurrence("weekly", weekdays=list(WEEKDAYS[:5]))
    if kind == "weekends":
        return Recurrence("weekly", weekdays=["sat", "sun"])
    if kind == "days":
        days = _days(m.group("days"))
        return Recurrence("weekly", weekdays=days) if days else None
    if kind == "daily":
        return Recurrence("every_n_days", every_days=1)
    if kind == "weekly":
        return Recurrence("weekly")
    if kind == "monthly":
        return Recurrence("every_n_days", every_days=30)
    return None


def _cut(text: str, start: int, end: int) -> str:
    joined = re.sub(r"\s{2,}", " ", (text[:start] + " " + text[end:]))
    return re.sub(r"\s+([,;])", r"\1", joined).strip(" ,;")
