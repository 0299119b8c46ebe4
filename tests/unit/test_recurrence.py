from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from luna.domain.recurrence import (
    ChoreSchedule,
    ScheduleKind,
    first_due,
    is_overdue,
    next_due_after,
    occurrences,
    to_rrule,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
D = date(2026, 5, 13)  # a Wednesday


def weekly(*days: int, start: date = D) -> ChoreSchedule:
    return ChoreSchedule(ScheduleKind.WEEKLY, start, weekdays=days)


def every(n: int, *, from_completion: bool = False, start: date = D) -> ChoreSchedule:
    return ChoreSchedule(
        ScheduleKind.EVERY_N_DAYS, start, interval_days=n, from_completion=from_completion
    )


# --- validation -------------------------------------------------------------------------------


def test_weekly_weekdays_are_normalised_sorted_and_unique() -> None:
    assert weekly(SAT, TUE, SAT).weekdays == (TUE, SAT)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChoreSchedule(ScheduleKind.WEEKLY, D),
        lambda: ChoreSchedule(ScheduleKind.WEEKLY, D, weekdays=(7,)),
        lambda: ChoreSchedule(ScheduleKind.EVERY_N_DAYS, D),
        lambda: ChoreSchedule(ScheduleKind.EVERY_N_DAYS, D, interval_days=0),
        lambda: ChoreSchedule(ScheduleKind.WEEKLY, D, weekdays=(MON,), from_completion=True),
        lambda: ChoreSchedule(ScheduleKind.ONCE, datetime(2026, 5, 13, 9, 0)),
        lambda: ChoreSchedule("monthly", D),  # type: ignore[arg-type]
    ],
)
def test_invalid_schedules_raise_value_error(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


def test_schedule_kind_given_as_stored_string_is_coerced() -> None:
    assert ChoreSchedule("once", D).kind is ScheduleKind.ONCE  # type: ignore[arg-type]


# --- first and next due -----------------------------------------------------------------------


def test_first_due_of_a_weekly_chore_is_the_first_selected_day_on_or_after_start() -> None:
    assert first_due(weekly(MON, FRI)) == date(2026, 5, 15)
    assert first_due(weekly(WED)) == D


def test_first_due_of_once_and_every_n_days_is_the_start() -> None:
    assert first_due(ChoreSchedule(ScheduleKind.ONCE, D)) == D
    assert first_due(every(3)) == D


def test_once_chore_has_no_next_due() -> None:
    assert next_due_after(ChoreSchedule(ScheduleKind.ONCE, D), D, D) is None


def test_weekly_done_on_time_moves_to_the_next_selected_day() -> None:
    assert next_due_after(weekly(TUE, SAT), date(2026, 5, 12), date(2026, 5, 12)) == date(
        2026, 5, 16
    )


def test_weekly_done_late_jumps_to_the_next_future_occurrence_without_pile_up() -> None:
    due = date(2026, 5, 12)  # Tuesday
    assert next_due_after(weekly(TUE, SAT), due, date(2026, 5, 20)) == date(2026, 5, 23)


def test_weekly_done_early_still_moves_past_the_due_date() -> None:
    assert next_due_after(weekly(SAT), date(2026, 5, 16), date(2026, 5, 14)) == date(2026, 5, 23)


def test_calendar_every_n_days_done_on_time_or_early_adds_the_interval() -> None:
    assert next_due_after(every(3), D, D) == D + timedelta(days=3)
    assert next_due_after(every(3), D, D - timedelta(days=2)) == D + timedelta(days=3)


def test_calendar_every_n_days_done_late_keeps_the_calendar_rhythm() -> None:
    assert next_due_after(every(3), D, D + timedelta(days=4)) == D + timedelta(days=6)
    assert next_due_after(every(3), D, D + timedelta(days=6)) == D + timedelta(days=9)


def test_from_completion_chore_done_late_takes_its_next_due_date_from_the_completion() -> None:
    fridge = every(30, from_completion=True)
    done_on = D + timedelta(days=5)
    assert next_due_after(fridge, D, done_on) == done_on + timedelta(days=30)
    assert next_due_after(every(30), D, done_on) == D + timedelta(days=30)


def test_from_completion_chore_done_early_restarts_the_interval_from_completion() -> None:
    fridge = every(10, from_completion=True)
    assert next_due_after(fridge, D, D - timedelta(days=3)) == D + timedelta(days=7)


# --- projection, overdue, rrule ---------------------------------------------------------------


def test_occurrences_projects_on_time_completions_inside_the_window() -> None:
    got = occurrences(weekly(TUE, SAT), date(2026, 5, 12), date(2026, 5, 13), date(2026, 5, 27))
    assert got == [date(2026, 5, 16), date(2026, 5, 19), date(2026, 5, 23), date(2026, 5, 26)]


def test_occurrences_of_every_n_days_far_before_the_window_keep_the_rhythm() -> None:
    got = occurrences(every(7), date(2020, 1, 1), date(2026, 1, 1), date(2026, 1, 20))
    assert got == [date(2026, 1, 7), date(2026, 1, 14)]
    assert all((d - date(2020, 1, 1)).days % 7 == 0 for d in got)


def test_occurrences_of_a_once_chore_and_of_nothing() -> None:
    once = ChoreSchedule(ScheduleKind.ONCE, D)
    assert occurrences(once, D, D, D) == [D]
    assert occurrences(once, D, D + timedelta(days=1), D + timedelta(days=2)) == []
    assert occurrences(every(2), None, D, D + timedelta(days=9)) == []


def test_occurrences_rejects_an_inverted_window() -> None:
    with pytest.raises(ValueError):
        occurrences(every(2), D, D, D - timedelta(days=1))


def test_a_chore_without_due_time_is_overdue_only_from_the_next_day() -> None:
    assert not is_overdue(D, None, datetime(2026, 5, 13, 23, 59))
    assert is_overdue(D, None, datetime(2026, 5, 14, 0, 0))


def test_a_chore_with_due_time_is_overdue_once_past_it_on_the_wall_clock() -> None:
    assert not is_overdue(D, time(18, 0), datetime(2026, 5, 13, 18, 0))
    assert is_overdue(D, time(18, 0), datetime(2026, 5, 13, 18, 1))
    assert not is_overdue(None, time(18, 0), datetime(2030, 1, 1))


def test_is_overdue_reads_an_aware_now_as_household_wall_time() -> None:
    from zoneinfo import ZoneInfo

    now = datetime(2026, 5, 13, 18, 30, tzinfo=ZoneInfo("America/New_York"))
    assert is_overdue(D, time(18, 0), now)


def test_to_rrule_renders_weekly_and_calendar_interval_schedules() -> None:
    assert to_rrule(weekly(SAT, TUE)) == "FREQ=WEEKLY;BYDAY=TU,SA"
    assert to_rrule(every(3)) == "FREQ=DAILY;INTERVAL=3"
    assert to_rrule(ChoreSchedule(ScheduleKind.ONCE, D)) is None
    assert to_rrule(every(3, from_completion=True)) is None


@pytest.mark.parametrize("schedule", [weekly(TUE, SAT), weekly(SUN), every(3), every(1)])
def test_to_rrule_parses_with_dateutil_and_matches_the_projection(
    schedule: ChoreSchedule,
) -> None:
    text = to_rrule(schedule)
    assert text is not None
    start = first_due(schedule)
    rule = rrulestr(text, dtstart=datetime.combine(start, time()))
    expected = occurrences(schedule, start, start, start + timedelta(days=40))
    got = [
        dt.date()
        for dt in rule.between(
            datetime.combine(start, time()),
            datetime.combine(start + timedelta(days=40), time()),
            inc=True,
        )
    ]
    assert got == expected


# --- properties -------------------------------------------------------------------------------

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
weekday_sets = st.sets(st.integers(0, 6), min_size=1).map(tuple)
schedules = st.one_of(
    st.builds(lambda s, w: weekly(*w, start=s), days, weekday_sets),
    st.builds(
        lambda s, n, fc: every(n, from_completion=fc, start=s),
        days,
        st.integers(1, 60),
        st.booleans(),
    ),
)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules, due=days, delay=st.integers(-30, 60))
def test_property_next_due_is_after_completion_and_calendar_next_is_after_due(
    schedule: ChoreSchedule, due: date, delay: int
) -> None:
    done_on = due + timedelta(days=delay)
    nxt = next_due_after(schedule, due, done_on)
    assert nxt is not None
    assert nxt > done_on
    if not schedule.from_completion:
        assert nxt > due
    if schedule.kind is ScheduleKind.WEEKLY:
        assert nxt.weekday() in schedule.weekdays
        assert nxt - max(due, done_on) <= timedelta(days=7)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules, next_due=days, start=days, length=st.integers(0, 120))
def test_property_occurrences_are_sorted_unique_and_inside_the_window(
    schedule: ChoreSchedule, next_due: date, start: date, length: int
) -> None:
    end = start + timedelta(days=length)
    got = occurrences(schedule, next_due, start, end)
    assert got == sorted(set(got))
    assert all(start <= d <= end and d >= next_due for d in got)
    if schedule.kind is ScheduleKind.WEEKLY:
        assert all(d.weekday() in schedule.weekdays for d in got if d != next_due)


@settings(max_examples=200, deadline=None)
@given(schedule=schedules)
def test_property_first_due_is_on_or_after_start_and_on_a_selected_weekday(
    schedule: ChoreSchedule,
) -> None:
    due = first_due(schedule)
    assert due >= schedule.start
    if schedule.kind is ScheduleKind.WEEKLY:
        assert due.weekday() in schedule.weekdays
        assert due - schedule.start < timedelta(days=7)
