"""Habit rules: what counts as a done day, streaks, Loop's habit strength, completion and dueness.

Every function works on *local days* (see ``localday``): the service turns log instants into
dates in the member's zone at logging time, so travel and DST never move past entries. A day is
MET, MISSED or neutral (skipped, paused, or not required by the frequency). Neutral days neither
break nor extend a streak and leave the strength unchanged, because rest and vacation are part of
keeping a habit, not failures of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum, StrEnum
from typing import Literal

from luna.domain.localday import require_day

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Short weekday names; the index is ``date.weekday()`` (0 = Monday)."""

_ONE_DAY = timedelta(days=1)
_NEGLIGIBLE = 1e-6
"""How little a day may still count in the strength score before it is no longer read."""

_WINDOW_DAYS = 14
"""Loop doubles num/den for non-daily habits: two weeks smooth out irregular schedules."""


class FrequencyKind(StrEnum):
    DAILY = "daily"
    TIMES_PER_WEEK = "times_per_week"
    WEEKDAYS = "weekdays"


class TargetKind(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


@dataclass(frozen=True, slots=True)
class HabitRule:
    """How often a habit is expected and, for quantifiable habits, what a done day means."""

    kind: FrequencyKind = FrequencyKind.DAILY
    times_per_week: int | None = None
    """Quota per ISO week (1..7); required for TIMES_PER_WEEK."""
    weekdays: frozenset[int] = frozenset()
    """Selected weekdays (0 = Monday); required and non-empty for WEEKDAYS."""
    target: float | None = None
    """Per-day amount for quantifiable habits; None means any log counts."""
    target_kind: TargetKind = TargetKind.AT_LEAST

    def __post_init__(self) -> None:
        # Services build rules from stored strings; coercing keeps `is` comparisons valid.
        object.__setattr__(self, "kind", FrequencyKind(self.kind))
        object.__setattr__(self, "target_kind", TargetKind(self.target_kind))
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        # Fields that do not apply to the kind are tolerated (stale columns after a frequency
        # change) but must still be sane, so a later switch of kind cannot smuggle garbage in.
        tpw = self.times_per_week
        if tpw is not None and (isinstance(tpw, bool) or not isinstance(tpw, int)):
            raise ValueError("times_per_week must be an integer")
        if tpw is not None and not 1 <= tpw <= 7:
            raise ValueError("times_per_week must be between 1 and 7")
        if self.kind is FrequencyKind.TIMES_PER_WEEK and tpw is None:
            raise ValueError("times_per_week is required for a times-per-week habit")
        if any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in self.weekdays
        ):
            raise ValueError("weekdays must be integers 0 (Monday) to 6 (Sunday)")
        if self.kind is FrequencyKind.WEEKDAYS and not self.weekdays:
            raise ValueError("a weekdays habit needs at least one weekday")
        if self.target is not None and not (math.isfinite(self.target) and self.target > 0):
            raise ValueError("target must be a positive number")

    @property
    def frequency(self) -> float:
        """Expected done days per day (Loop's f)."""
        if self.kind is FrequencyKind.TIMES_PER_WEEK:
            assert self.times_per_week is not None  # guaranteed by __post_init__
            return self.times_per_week / 7
        if self.kind is FrequencyKind.WEEKDAYS:
            return len(self.weekdays) / 7
        return 1.0

    @property
    def per_week(self) -> int:
        """Expected done days per week."""
        return round(self.frequency * 7)


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One log on a local day; several entries on a day are summed."""

    day: date
    value: float = 1.0
    skipped: bool = False
    """An explicit "skip today": neutral unless the day is also met."""

    def __post_init__(self) -> None:
        require_day(self.day, "day")
        if not math.isfinite(self.value):
            raise ValueError("entry value must be a finite number")


@dataclass(frozen=True, slots=True)
class Pause:
    """A vacation or sick spell: its days are neutral."""

    start: date
    end: date | None
    """Inclusive last paused day; None while the pause is open-ended."""

    def __post_init__(self) -> None:
        require_day(self.start, "start")
        if self.end is not None:
            require_day(self.end, "end")
            if self.end < self.start:
                raise ValueError("a pause cannot end before it starts")


@dataclass(frozen=True, slots=True)
class Streaks:
    current: int
    longest: int
    unit: Literal["days", "weeks"]
    """Times-per-week habits count ISO weeks that met their quota, everything else days."""


class _State(Enum):
    MET = "met"
    MISSED = "missed"
    SKIPPED = "skipped"
    PAUSED = "paused"
    OFF = "off"
    """Not a selected weekday."""


_NEUTRAL = frozenset({_State.SKIPPED, _State.PAUSED, _State.OFF})


@dataclass(slots=True)
class _Log:
    total: float = 0.0
    done: bool = False
    skipped: bool = False


def _collect(entries: Iterable[DayEntry], until: date | None) -> dict[date, _Log]:
    logs: dict[date, _Log] = {}
    for entry in entries:
        if until is not None and entry.day > until:
            continue
        log = logs.setdefault(entry.day, _Log())
        if entry.skipped:
            log.skipped = True
        else:
            log.done = True
            log.total += entry.value
    return logs


def _paused_days(pauses: Sequence[Pause], lo: date, hi: date) -> set[date]:
    days: set[date] = set()
    for pause in pauses:
        first = max(pause.start, lo)
        last = hi if pause.end is None else min(pause.end, hi)
        days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
    return days


def _meets(rule: HabitRule, log: _Log | None) -> bool:
    done = log is not None and log.done
    if rule.target is None:
        return done
    total = log.total if log is not None and done else 0.0
    if rule.target_kind is TargetKind.AT_MOST:
        # Nothing logged is zero consumed: an "at most" habit is kept by default (Loop does too).
        return total <= rule.target
    return done and total >= rule.target


def _exceeded(rule: HabitRule, log: _Log | None) -> bool:
    """An "at most" day already over its limit is lost even though it has not ended."""
    return (
        rule.target is not None
        and rule.target_kind is TargetKind.AT_MOST
        and log is not None
        and log.done
        and log.total > rule.target
    )


def _state(rule: HabitRule, day: date, log: _Log | None, paused: set[date]) -> _State:
    if day in paused:
        return _State.PAUSED
    if rule.kind is FrequencyKind.WEEKDAYS and day.weekday() not in rule.weekdays:
        return _State.OFF
    if _meets(rule, log):
        return _State.MET
    # A skip also rests a partly done (or, for "at most", overdone) day: the member chose to.
    if log is not None and log.skipped:
        return _State.SKIPPED
    return _State.MISSED


def _counts_today(rule: HabitRule, log: _Log | None, state: _State) -> bool:
    """Whether today is settled: met, or an "at most" limit already broken."""
    return state is _State.MET or (state is _State.MISSED and _exceeded(rule, log))


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += _ONE_DAY


def _week_tally(
    rule: HabitRule, logs: dict[date, _Log], paused: set[date], monday: date, until: date
) -> tuple[int, int]:
    """(met days, neutral days) of the ISO week starting ``monday``.

    Planned pauses later in the week already lower the quota; skips and met days only count up
    to ``until`` because later entries do not exist yet.
    """
    met = neutral = 0
    for day in _days(monday, monday + timedelta(days=6)):
        if day > until:
            neutral += day in paused
            continue
        state = _state(rule, day, logs.get(day), paused)
        met += state is _State.MET
        neutral += state in _NEUTRAL
    return met, neutral


def streaks(
    rule: HabitRule, entries: Iterable[DayEntry], today: date, pauses: Sequence[Pause] = ()
) -> Streaks:
    """Current and longest streak, in days (or ISO weeks for times-per-week habits).

    Today, if not yet settled, is neutral: the day is not over. Entries after today are ignored.
    """
    require_day(today, "today")
    logs = _collect(entries, today)
    if rule.kind is FrequencyKind.TIMES_PER_WEEK:
        return _week_streaks(rule, logs, today, pauses)
    if not logs:
        return Streaks(0, 0, "days")
    first = min(logs)
    paused = _paused_days(pauses, first, today)
    run = longest = 0
    for day in _days(first, today):
        log = logs.get(day)
        state = _state(rule, day, log, paused)
        if day == today and not _counts_today(rule, log, state):
            continue
        if state is _State.MET:
            run += 1
            longest = max(longest, run)
        elif state is _State.MISSED:
            run = 0
    return Streaks(run, longest, "days")


def _week_streaks(
    rule: HabitRule, logs: dict[date, _Log], today: date, pauses: Sequence[Pause]
) -> Streaks:
    if not logs:
        return Streaks(0, 0, "weeks")
    monday = min(logs) - timedelta(days=min(logs).weekday())
    this_monday = today - timedelta(days=today.weekday())
    paused = _paused_days(pauses, monday, this_monday + timedelta(days=6))
    run = longest = 0
    while monday <= this_monday:
        met, neutral = _week_tally(rule, logs, paused, monday, today)
        quota = rule.per_week - neutral
        # A week excused down to no quota is neutral, unless the member did it anyway: then it
        # counts, so that a skip or pause can never turn a done week into a lesser one.
        if met >= max(quota, 1):
            run += 1
            longest = max(longest, run)
        elif quota > 0 and monday != this_monday:
            run = 0
        monday += timedelta(days=7)
    return Streaks(run, longest, "weeks")


def strength(
    rule: HabitRule,
    entries: Iterable[DayEntry],
    today: date,
    pauses: Sequence[Pause] = (),
    start: date | None = None,
) -> float:
    """Loop's habit score in [0, 1]: an exponential average that forgives a lapse gradually.

    Iterates from ``start`` (default: the first entry's day) through today, or through
    yesterday while today is unsettled, so an unfinished day is never penalised.
    """
    require_day(today, "today")
    logs = _collect(entries, today)
    if start is None:
        if not logs:
            return 0.0
        start = min(logs)
    require_day(start, "start")
    daily = rule.frequency >= 1.0
    num = 1 if daily else 2 * rule.per_week
    den = 1 if daily else _WINDOW_DAYS
    lo = start - timedelta(days=den - 1)
    paused = _paused_days(pauses, lo, today)
    end = today
    if not _counts_today(rule, logs.get(today), _state(rule, today, logs.get(today), paused)):
        end = today - timedelta(days=1)
    if end < start:
        return 0.0

    multiplier = 0.5 ** (math.sqrt(rule.frequency) / 13)
    # Day k before the end weighs multiplier**k: beyond the horizon a day moves the score by
    # less than _NEGLIGIBLE, so an old habit costs the same as a year-old one.
    horizon = math.ceil(math.log(_NEGLIGIBLE) / math.log(multiplier))
    if (end - start).days > horizon:
        start = end - timedelta(days=horizon)
        lo = start - timedelta(days=den - 1)
    goal = num if rule.target is None else rule.target * num
    window: list[float] = []
    rolling = score = 0.0
    for day in _days(lo, end):
        log = logs.get(day)
        state = _state(rule, day, log, paused)
        window.append(_credit(rule, log, state))
        rolling += window[-1]
        if len(window) > den:
            rolling -= window[-den - 1]
        if day < start or state in (_State.SKIPPED, _State.PAUSED):
            continue
        if rule.target is not None and rule.target_kind is TargetKind.AT_MOST:
            value = 1 - (rolling - goal) / goal
        else:
            value = rolling / goal
        score = score * multiplier + min(1.0, max(0.0, value)) * (1 - multiplier)
    return min(1.0, max(0.0, score))


def _credit(rule: HabitRule, log: _Log | None, state: _State) -> float:
    """What a day adds to the rolling window: a met day, or the amount done on a counted day."""
    if rule.target is None:
        return 1.0 if state is _State.MET else 0.0
    if log is None or not log.done or state in (_State.PAUSED, _State.OFF):
        return 0.0
    return log.total


def completion_rate(
    rule: HabitRule,
    entries: Iterable[DayEntry],
    start: date,
    end: date,
    pauses: Sequence[Pause] = (),
) -> float:
    """Met days over expected days in [start, end], capped at 1.0 (0.0 when nothing is expected).

    Neutral days are not expected; a times-per-week habit expects its quota pro rata over the
    remaining days.
    """
    require_day(start, "start")
    require_day(end, "end")
    if end < start:
        raise ValueError("end must not be before start")
    logs = _collect(entries, end)
    paused = _paused_days(pauses, start, end)
    met = active = 0
    for day in _days(start, end):
        state = _state(rule, day, logs.get(day), paused)
        met += state is _State.MET
        active += state not in _NEUTRAL
    expected = active * rule.frequency if rule.kind is FrequencyKind.TIMES_PER_WEEK else active
    return 0.0 if expected <= 0 else min(1.0, met / expected)


def is_due(
    rule: HabitRule, day: date, entries: Iterable[DayEntry], pauses: Sequence[Pause] = ()
) -> bool:
    """Whether the habit still wants doing on ``day`` (drives reminders and briefings).

    An "at most" habit is kept by default, so it is due as a check-in until something is logged.
    """
    require_day(day, "day")
    logs = _collect(entries, day)
    monday = day - timedelta(days=day.weekday())
    paused = _paused_days(pauses, monday, monday + timedelta(days=6))
    log = logs.get(day)
    state = _state(rule, day, log, paused)
    if state in _NEUTRAL or (log is not None and log.skipped):
        return False
    if rule.target is not None and rule.target_kind is TargetKind.AT_MOST:
        if log is not None and log.done:
            return False
    elif state is _State.MET:
        return False
    if rule.kind is FrequencyKind.TIMES_PER_WEEK:
        met, neutral = _week_tally(rule, logs, paused, monday, day)
        return met < rule.per_week - neutral
    return True
