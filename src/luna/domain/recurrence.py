"""Family chore schedules: when a chore is next due, projected occurrences and overdue checks.

Two anchors, as in Todoist and Grocy: a *calendar* schedule keeps its dates whenever the chore is
done, while a *from-completion* one ("clean the fridge every 30 days") restarts its interval on
the day it was done. Either way a late completion never piles up missed occurrences: the chore
jumps to its next future date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from luna.domain.habits import WEEKDAY_NAMES
from luna.domain.localday import require_day

_RRULE_DAYS = tuple(name[:2].upper() for name in WEEKDAY_NAMES)


class ScheduleKind(StrEnum):
    ONCE = "once"
    WEEKLY = "weekly"
    EVERY_N_DAYS = "every_n_days"


@dataclass(frozen=True, slots=True)
class ChoreSchedule:
    kind: ScheduleKind
    start: date
    """The date of a one-off chore; otherwise the first day the chore can be due."""
    weekdays: tuple[int, ...] = ()
    """Selected weekdays (0 = Monday) of a weekly chore; normalised to sorted and unique."""
    interval_days: int | None = None
    """Days between occurrences of an every-n-days chore (>= 1)."""
    from_completion: bool = False
    """Every-n-days only: count the interval from the completion day, not the calendar."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ScheduleKind(self.kind))
        require_day(self.start, "start")
        if any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in self.weekdays
        ):
            raise ValueError("weekdays must be integers 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "weekdays", tuple(sorted(set(self.weekdays))))
        if self.kind is ScheduleKind.WEEKLY and not self.weekdays:
            raise ValueError("a weekly chore needs at least one weekday")
        interval = self.interval_days
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, int) or interval < 1
        ):
            raise ValueError("interval_days must be a whole number of days, at least 1")
        if self.kind is ScheduleKind.EVERY_N_DAYS and interval is None:
            raise ValueError("interval_days is required for an every-n-days chore")
        # Unlike a stale weekday list, a stray flag would silently change when the chore is due.
        if self.from_completion and self.kind is not ScheduleKind.EVERY_N_DAYS:
            raise ValueError("from_completion only applies to every-n-days chores")


def _interval(schedule: ChoreSchedule) -> int:
    assert schedule.interval_days is not None  # guaranteed by __post_init__
    return schedule.interval_days


def _weekday_on_or_after(schedule: ChoreSchedule, day: date) -> date:
    ahead = min((wd - day.weekday()) % 7 for wd in schedule.weekdays)
    return day + timedelta(days=ahead)


def first_due(schedule: ChoreSchedule) -> date:
    """The first due date of a freshly created chore."""
    if schedule.kind is ScheduleKind.WEEKLY:
        return _weekday_on_or_after(schedule, schedule.start)
    return schedule.start


def next_due_after(schedule: ChoreSchedule, due: date, done_on: date) -> date | None:
    """The next due date once the occurrence due on ``due`` was done (or skipped) on ``done_on``.

    - once: None, the chore is finished.
    - weekly: the first selected weekday after both ``due`` and ``done_on``.
    - every n days, calendar: ``due + k*n`` for the smallest k >= 1 that lands after ``done_on``.
    - every n days, from completion: ``done_on + n``, even when done early (it restarts the clock).
    """
    if schedule.kind is ScheduleKind.ONCE:
        return None
    if schedule.kind is ScheduleKind.WEEKLY:
        return _weekday_on_or_after(schedule, max(due, done_on) + timedelta(days=1))
    n = _interval(schedule)
    if schedule.from_completion:
        return done_on + timedelta(days=n)
    late_by = max(0, (done_on - due).days)
    return due + timedelta(days=(late_by // n + 1) * n)


def occurrences(
    schedule: ChoreSchedule, next_due: date | None, start: date, end: date
) -> list[date]:
    """Due dates within [start, end], from ``next_due`` on, if each is done on its due date."""
    if end < start:
        raise ValueError("end must not be before start")
    if next_due is None:
        return []
    if schedule.kind is ScheduleKind.ONCE:
        return [next_due] if start <= next_due <= end else []
    found: list[date] = []
    current: date | None = next_due
    if next_due < start:
        # Skip straight to the window rather than walking years of on-time completions.
        current = _first_at_or_after(schedule, next_due, start)
    while current is not None and current <= end:
        found.append(current)
        current = next_due_after(schedule, current, current)
    return found


def _first_at_or_after(schedule: ChoreSchedule, next_due: date, start: date) -> date:
    if schedule.kind is ScheduleKind.WEEKLY:
        return _weekday_on_or_after(schedule, start)
    n = _interval(schedule)
    steps = -(-(start - next_due).days // n)
    return next_due + timedelta(days=steps * n)


def is_overdue(next_due: date | None, due_time: time | None, now_local: datetime) -> bool:
    """Whether ``now_local`` is past the due moment; without a due time, the whole day is allowed.

    ``now_local`` is read as a wall time in the household zone (an aware value is not converted),
    because due dates and times are household wall-clock facts.
    """
    if next_due is None:
        return False
    if due_time is None:
        return now_local.date() > next_due
    deadline = datetime.combine(next_due, due_time.replace(tzinfo=None))
    return now_local.replace(tzinfo=None) > deadline


def to_rrule(schedule: ChoreSchedule) -> str | None:
    """RFC 5545 RRULE text (no ``RRULE:`` prefix, no DTSTART) for calendar-anchored schedules.

    One-off and from-completion chores have no calendar rule: their dates depend on when they
    are done.
    """
    if schedule.kind is ScheduleKind.WEEKLY:
        return "FREQ=WEEKLY;BYDAY=" + ",".join(_RRULE_DAYS[d] for d in schedule.weekdays)
    if schedule.kind is ScheduleKind.EVERY_N_DAYS and not schedule.from_completion:
        return f"FREQ=DAILY;INTERVAL={_interval(schedule)}"
    return None
