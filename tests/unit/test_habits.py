from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luna.domain.habits import (
    WEEKDAY_NAMES,
    DayEntry,
    FrequencyKind,
    HabitRule,
    Pause,
    Streaks,
    TargetKind,
    completion_rate,
    is_due,
    streaks,
    strength,
)
from luna.domain.localday import combine_local, local_date

DAILY = HabitRule()
TODAY = date(2026, 5, 13)  # a Wednesday
NY, BERLIN = "America/New_York", "Europe/Berlin"


def day(offset: int) -> date:
    """TODAY + offset days."""
    return TODAY + timedelta(days=offset)


def done(*offsets: int, value: float = 1.0) -> list[DayEntry]:
    return [DayEntry(day(o), value) for o in offsets]


def skip(*offsets: int) -> list[DayEntry]:
    return [DayEntry(day(o), skipped=True) for o in offsets]


def run_of_days(first: date, last: date) -> list[DayEntry]:
    return [DayEntry(first + timedelta(days=i)) for i in range((last - first).days + 1)]


# --- rule validation --------------------------------------------------------------------------


def test_weekday_names_follow_date_weekday() -> None:
    assert WEEKDAY_NAMES[TODAY.weekday()] == "wed"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": FrequencyKind.TIMES_PER_WEEK},
        {"kind": FrequencyKind.TIMES_PER_WEEK, "times_per_week": 0},
        {"kind": FrequencyKind.TIMES_PER_WEEK, "times_per_week": 8},
        {"kind": FrequencyKind.WEEKDAYS},
        {"kind": FrequencyKind.WEEKDAYS, "weekdays": frozenset({7})},
        {"target": 0.0},
        {"target": float("inf")},
        {"kind": "hourly"},
        {"target_kind": "exactly"},
    ],
)
def test_invalid_habit_rules_raise_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HabitRule(**kwargs)  # type: ignore[arg-type]


def test_habit_rule_coerces_stored_strings_to_enums() -> None:
    rule = HabitRule(kind="weekdays", weekdays=frozenset({0}), target_kind="at_most")  # type: ignore[arg-type]
    assert rule.kind is FrequencyKind.WEEKDAYS
    assert rule.target_kind is TargetKind.AT_MOST


def test_day_entry_rejects_a_datetime_because_it_must_be_a_local_day() -> None:
    with pytest.raises(ValueError, match="local day"):
        DayEntry(datetime(2026, 5, 13, 9, 0, tzinfo=UTC))


def test_pause_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        Pause(day(0), day(-1))


# --- daily streaks ----------------------------------------------------------------------------


def test_consecutive_days_through_today_make_current_and_longest() -> None:
    assert streaks(DAILY, done(-4, -3, -2, -1, 0), TODAY) == Streaks(5, 5, "days")


def test_an_unfinished_today_does_not_break_the_streak() -> None:
    assert streaks(DAILY, done(-3, -2, -1), TODAY) == Streaks(3, 3, "days")


def test_a_missed_yesterday_breaks_the_current_streak_but_not_the_longest() -> None:
    assert streaks(DAILY, done(-6, -5, -4, -3, -2), TODAY) == Streaks(0, 5, "days")
    assert streaks(DAILY, done(-6, -5, -4, -2, 0), TODAY) == Streaks(1, 3, "days")


def test_skipped_days_keep_the_streak_without_adding_to_it() -> None:
    entries = done(-5, -4, -1, 0) + skip(-3, -2)
    assert streaks(DAILY, entries, TODAY) == Streaks(4, 4, "days")


def test_a_skip_after_a_partial_log_still_rests_the_day() -> None:
    rule = HabitRule(target=8)
    entries = done(-2, -1, value=8) + done(0, value=3) + skip(0)
    assert streaks(rule, entries, TODAY).current == 2
    assert not is_due(rule, TODAY, entries)


def test_paused_days_are_neutral_including_an_open_ended_pause() -> None:
    entries = done(-10, -9, -2, -1)
    closed = [Pause(day(-8), day(-3))]
    assert streaks(DAILY, entries, TODAY, closed) == Streaks(4, 4, "days")
    open_ended = [Pause(day(-1), None)]
    assert streaks(DAILY, done(-3, -2), TODAY, open_ended) == Streaks(2, 2, "days")


def test_entries_after_today_are_ignored() -> None:
    assert streaks(DAILY, done(-1, 0, 1, 2), TODAY) == Streaks(2, 2, "days")


def test_no_entries_means_no_streak() -> None:
    assert streaks(DAILY, [], TODAY) == Streaks(0, 0, "days")


def test_weekdays_habit_ignores_unselected_days() -> None:
    rule = HabitRule(kind=FrequencyKind.WEEKDAYS, weekdays=frozenset({0, 2, 4}))  # Mon Wed Fri
    # Fri 8th, Mon 11th, Wed 13th (today); the logged Tuesday adds nothing.
    entries = done(-5, -2, -1, 0)
    assert streaks(rule, entries, TODAY) == Streaks(3, 3, "days")
    assert streaks(rule, done(-5), TODAY) == Streaks(0, 1, "days")


def test_quantifiable_day_counts_when_the_summed_value_meets_the_target() -> None:
    rule = HabitRule(target=8)
    entries = done(-2, value=8) + done(-1, value=5) + done(-1, value=3) + done(0, value=2)
    assert streaks(rule, entries, TODAY) == Streaks(2, 2, "days")
    assert streaks(rule, done(-2, value=8) + done(-1, value=7), TODAY) == Streaks(0, 1, "days")


def test_at_most_habit_is_kept_by_default_and_broken_at_once_when_exceeded() -> None:
    rule = HabitRule(target=2, target_kind=TargetKind.AT_MOST)
    assert streaks(rule, done(-3, value=1), TODAY) == Streaks(4, 4, "days")
    over_today = done(-3, value=1) + done(0, value=3)
    assert streaks(rule, over_today, TODAY) == Streaks(0, 3, "days")


# --- days from instants: day start, DST and travel --------------------------------------------


def test_a_log_at_0130_with_day_start_0300_counts_for_the_previous_day() -> None:
    late = datetime(2026, 5, 13, 1, 30, tzinfo=ZoneInfo(NY))
    entries = [*done(-2), DayEntry(local_date(late, NY, time(3, 0)))]
    assert entries[-1].day == day(-1)
    assert streaks(DAILY, entries, TODAY) == Streaks(2, 2, "days")


@pytest.mark.parametrize(
    ("first", "last"),
    [(date(2026, 3, 1), date(2026, 3, 15)), (date(2026, 10, 25), date(2026, 11, 8))],
)
def test_streak_across_a_dst_change_in_new_york_has_no_gap_or_double_day(
    first: date, last: date
) -> None:
    # Every 24 h in UTC (the wall clock shifts by an hour) and every day at 22:30 local.
    utc_daily = [
        datetime.combine(first, time(3, 0), UTC) + timedelta(days=i)
        for i in range((last - first).days)
    ]
    wall_daily = [
        combine_local(first + timedelta(days=i), time(22, 30), NY)
        for i in range((last - first).days)
    ]
    for instants in (utc_daily, wall_daily):
        days = [local_date(at, NY) for at in instants]
        assert len(set(days)) == len(days)
        result = streaks(DAILY, [DayEntry(d) for d in days], days[-1])
        assert result == Streaks(len(days), len(days), "days")


def test_repeated_hour_at_dst_end_maps_both_0130s_to_the_same_previous_day() -> None:
    new_york = ZoneInfo(NY)
    first = datetime(2026, 11, 1, 1, 30, tzinfo=new_york, fold=0)
    second = datetime(2026, 11, 1, 1, 30, tzinfo=new_york, fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert local_date(first, NY) == local_date(second, NY) == date(2026, 10, 31)


def test_streak_survives_flying_from_new_york_to_berlin() -> None:
    # 22:00 each evening in New York until May 10, then 22:00 in Berlin from May 11.
    ny = [combine_local(date(2026, 5, d), time(22, 0), NY) for d in range(1, 11)]
    berlin = [combine_local(date(2026, 5, d), time(22, 0), BERLIN) for d in range(11, 16)]
    days = [local_date(at, NY) for at in ny] + [local_date(at, BERLIN) for at in berlin]
    assert days == [date(2026, 5, d) for d in range(1, 16)]
    assert streaks(DAILY, [DayEntry(d) for d in days], date(2026, 5, 15)) == Streaks(15, 15, "days")


def test_flying_west_and_logging_twice_on_one_local_day_does_not_double_count() -> None:
    berlin = [combine_local(date(2026, 5, d), time(9, 0), BERLIN) for d in range(1, 7)]
    ny = [combine_local(date(2026, 5, d), time(20, 0), NY) for d in range(6, 11)]
    entries = [DayEntry(local_date(at, BERLIN)) for at in berlin]
    entries += [DayEntry(local_date(at, NY)) for at in ny]
    assert [e.day for e in entries].count(date(2026, 5, 6)) == 2
    assert streaks(DAILY, entries, date(2026, 5, 10)) == Streaks(10, 10, "days")


# --- times per week ---------------------------------------------------------------------------

THREE_A_WEEK = HabitRule(kind=FrequencyKind.TIMES_PER_WEEK, times_per_week=3)
# ISO weeks around TODAY: Mon Apr 27, Mon May 4, Mon May 11 (the current week).
APR27, MAY4, MAY11 = date(2026, 4, 27), date(2026, 5, 4), date(2026, 5, 11)


def on(monday: date, *weekdays: int, skipped: bool = False) -> list[DayEntry]:
    return [DayEntry(monday + timedelta(days=w), skipped=skipped) for w in weekdays]


def test_times_per_week_counts_weeks_that_meet_the_quota() -> None:
    entries = on(APR27, 0, 2, 4) + on(MAY4, 1, 3, 5)
    assert streaks(THREE_A_WEEK, entries, TODAY) == Streaks(2, 2, "weeks")


def test_times_per_week_current_week_counts_once_met() -> None:
    entries = on(APR27, 0, 2, 4) + on(MAY4, 1, 3, 5) + on(MAY11, 0, 1, 2)
    assert streaks(THREE_A_WEEK, entries, TODAY) == Streaks(3, 3, "weeks")


def test_times_per_week_short_week_breaks_the_streak() -> None:
    entries = on(APR27, 0, 2, 4) + on(MAY4, 1, 3)
    assert streaks(THREE_A_WEEK, entries, TODAY) == Streaks(0, 1, "weeks")


def test_times_per_week_neutral_days_reduce_the_quota() -> None:
    entries = on(APR27, 0, 2, 4) + on(MAY4, 1) + on(MAY4, 2, skipped=True)
    pauses = [Pause(MAY4 + timedelta(days=5), MAY4 + timedelta(days=6))]
    assert streaks(THREE_A_WEEK, entries, TODAY, pauses) == Streaks(2, 2, "weeks")


def test_times_per_week_fully_excused_week_is_neutral() -> None:
    entries = on(APR27, 0, 2, 4) + on(MAY11, 0, 1, 2)
    pauses = [Pause(MAY4, MAY4 + timedelta(days=6))]
    assert streaks(THREE_A_WEEK, entries, TODAY, pauses) == Streaks(2, 2, "weeks")


# --- strength ---------------------------------------------------------------------------------


def test_strength_after_30_perfect_daily_days_is_about_80_percent() -> None:
    assert strength(DAILY, run_of_days(day(-29), TODAY), TODAY) == pytest.approx(0.80, abs=0.01)


def test_strength_after_60_perfect_daily_days_is_about_96_percent() -> None:
    assert strength(DAILY, run_of_days(day(-59), TODAY), TODAY) == pytest.approx(0.96, abs=0.01)


def test_strength_is_zero_without_history() -> None:
    assert strength(DAILY, [], TODAY) == 0.0


def test_strength_does_not_penalise_an_unfinished_today() -> None:
    entries = run_of_days(day(-20), day(-1))
    assert strength(DAILY, entries, TODAY) == strength(DAILY, entries, day(-1))


def test_strength_holds_through_skipped_and_paused_days() -> None:
    base = run_of_days(day(-20), day(-6))
    held = strength(DAILY, base, day(-6))
    assert strength(DAILY, base + skip(-5, -4, -3), day(-3)) == pytest.approx(held)
    assert strength(DAILY, base, TODAY, [Pause(day(-5), None)]) == pytest.approx(held)


def test_strength_decays_gradually_after_a_lapse() -> None:
    entries = run_of_days(day(-40), day(-11))
    before = strength(DAILY, entries, day(-11))
    after = strength(DAILY, entries, day(-1))
    assert 0 < after < before
    # Nine missed days count: the tenth is "today" and still open.
    assert after == pytest.approx(before * 0.5 ** (9 / 13), rel=1e-9)


def test_strength_counts_from_an_explicit_start() -> None:
    entries = run_of_days(day(-9), TODAY)
    assert strength(DAILY, entries, TODAY, start=day(-4)) < strength(DAILY, entries, TODAY)
    # Days before the first entry are misses, which cannot lower a score that starts at zero.
    assert strength(DAILY, entries, TODAY, start=day(-29)) == strength(DAILY, entries, TODAY)


def _reference_daily_strength(done_days: set[date], start: date, end: date) -> float:
    """Loop's formula for a plain daily habit, every day from the start, no shortcuts."""
    multiplier = 0.5 ** (1 / 13)
    score, on_day = 0.0, start
    while on_day <= end:
        score = score * multiplier + (1.0 if on_day in done_days else 0.0) * (1 - multiplier)
        on_day += timedelta(days=1)
    return score


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3 * 365), max_size=600), st.booleans())
def test_strength_of_a_years_old_habit_matches_every_day_of_its_history(
    offsets: list[int], done_today: bool
) -> None:
    start = day(-3 * 365)
    days = {day(-o) for o in offsets} | ({TODAY} if done_today else set())
    entries = [DayEntry(d) for d in sorted(days)]
    end = TODAY if done_today else day(-1)
    expected = _reference_daily_strength(days, start, end)
    assert strength(DAILY, entries, TODAY, start=start) == pytest.approx(expected, abs=1e-5)


def test_strength_of_a_partial_quantity_converges_to_the_fraction_done() -> None:
    rule = HabitRule(target=8)
    entries = [DayEntry(day(-i), 4) for i in range(1, 400)]
    assert strength(rule, entries, TODAY) == pytest.approx(0.5, abs=0.01)


def test_strength_of_a_perfect_three_times_a_week_habit_approaches_one() -> None:
    entries = [e for w in range(40) for e in on(MAY11 - timedelta(weeks=w), 0, 2, 4)]
    assert strength(THREE_A_WEEK, entries, TODAY) > 0.99


def test_strength_of_an_at_most_habit_drops_when_the_limit_is_blown() -> None:
    rule = HabitRule(target=2, target_kind=TargetKind.AT_MOST)
    kept = strength(rule, done(-30, value=0), day(-1))
    assert kept == pytest.approx(strength(DAILY, run_of_days(day(-30), day(-1)), day(-1)))
    blown = strength(rule, done(-30, value=0) + done(-1, value=4), day(-1))
    assert blown < kept


# --- completion rate and dueness --------------------------------------------------------------


def test_completion_rate_is_met_over_expected_days() -> None:
    assert completion_rate(DAILY, done(-6, -5, -3, -2, -1), day(-6), TODAY) == pytest.approx(5 / 7)


def test_completion_rate_does_not_expect_neutral_days() -> None:
    entries = done(-6, -5) + skip(-4)
    rate = completion_rate(DAILY, entries, day(-6), TODAY, [Pause(day(-3), None)])
    assert rate == 1.0


def test_completion_rate_for_weekdays_expects_only_selected_days() -> None:
    rule = HabitRule(kind=FrequencyKind.WEEKDAYS, weekdays=frozenset({0, 2, 4}))
    assert completion_rate(rule, on(MAY4, 0, 2), MAY4, MAY4 + timedelta(days=6)) == (
        pytest.approx(2 / 3)
    )


def test_completion_rate_for_times_per_week_is_pro_rata_and_capped() -> None:
    two_weeks = (APR27, APR27 + timedelta(days=13))
    assert completion_rate(THREE_A_WEEK, on(APR27, 0, 1, 2), *two_weeks) == pytest.approx(0.5)
    all_days = on(APR27, *range(7)) + on(MAY4, *range(7))
    assert completion_rate(THREE_A_WEEK, all_days, *two_weeks) == 1.0


def test_completion_rate_is_zero_when_nothing_is_expected() -> None:
    assert completion_rate(DAILY, [], day(-3), TODAY, [Pause(day(-5), None)]) == 0.0


def test_completion_rate_rejects_an_inverted_range() -> None:
    with pytest.raises(ValueError):
        completion_rate(DAILY, [], TODAY, day(-1))


def test_is_due_until_done_and_not_when_skipped_or_paused() -> None:
    assert is_due(DAILY, TODAY, done(-1))
    assert not is_due(DAILY, TODAY, done(0))
    assert not is_due(DAILY, TODAY, skip(0))
    assert not is_due(DAILY, TODAY, [], [Pause(day(-2), None)])


def test_is_due_for_a_quantity_until_the_target_is_reached() -> None:
    rule = HabitRule(target=8)
    assert is_due(rule, TODAY, done(0, value=5))
    assert not is_due(rule, TODAY, done(0, value=5) + done(0, value=3))


def test_is_due_only_on_selected_weekdays() -> None:
    rule = HabitRule(kind=FrequencyKind.WEEKDAYS, weekdays=frozenset({0}))
    assert is_due(rule, MAY11, [])
    assert not is_due(rule, TODAY, [])


def test_is_due_for_times_per_week_until_the_week_quota_is_met() -> None:
    assert is_due(THREE_A_WEEK, TODAY, on(MAY11, 0, 1))
    assert is_due(THREE_A_WEEK, TODAY, on(MAY11, 0, 1) + on(MAY4, 2, 3, 4))
    assert not is_due(THREE_A_WEEK, TODAY, on(MAY11, 0, 1, 2))
    assert not is_due(THREE_A_WEEK, TODAY, on(MAY11, 0), [Pause(MAY11 + timedelta(days=4), None)])


def test_is_due_for_an_at_most_habit_asks_for_a_check_in_until_logged() -> None:
    rule = HabitRule(target=2, target_kind=TargetKind.AT_MOST)
    assert is_due(rule, TODAY, [])
    assert not is_due(rule, TODAY, done(0, value=1))


# --- properties -------------------------------------------------------------------------------

rules = st.one_of(
    st.builds(HabitRule),
    st.builds(
        HabitRule,
        kind=st.just(FrequencyKind.TIMES_PER_WEEK),
        times_per_week=st.integers(1, 7),
    ),
    st.builds(
        HabitRule,
        kind=st.just(FrequencyKind.WEEKDAYS),
        weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    ),
).flatmap(
    lambda r: st.builds(
        HabitRule,
        kind=st.just(r.kind),
        times_per_week=st.just(r.times_per_week),
        weekdays=st.just(r.weekdays),
        target=st.none() | st.integers(1, 5).map(float),
        target_kind=st.sampled_from(TargetKind),
    )
)
entry_lists = st.lists(
    st.builds(
        DayEntry,
        day=st.integers(-60, 3).map(day),
        value=st.integers(0, 6).map(float),
        skipped=st.booleans(),
    ),
    max_size=40,
)
pause_lists = st.lists(
    st.builds(
        lambda start, length: Pause(day(start), None if length < 0 else day(start + length)),
        st.integers(-60, 0),
        st.integers(-1, 10),
    ),
    max_size=2,
)
offsets = st.integers(-60, 0)


@settings(max_examples=200, deadline=None)
@given(rule=rules, entries=entry_lists, pauses=pause_lists)
def test_property_current_never_exceeds_longest(
    rule: HabitRule, entries: list[DayEntry], pauses: list[Pause]
) -> None:
    result = streaks(rule, entries, TODAY, pauses)
    assert 0 <= result.current <= result.longest


@settings(max_examples=200, deadline=None)
@given(rule=rules, entries=entry_lists, pauses=pause_lists, offset=offsets)
def test_property_adding_a_met_day_never_lowers_longest(
    rule: HabitRule, entries: list[DayEntry], pauses: list[Pause], offset: int
) -> None:
    if rule.target_kind is TargetKind.AT_MOST and rule.target is not None:
        # Meeting an "at most" day means logging less, not more: the day's logs become one
        # explicit zero (an empty today would be "not over yet", which is not a met day).
        kept = [e for e in entries if not (e.day == day(offset) and not e.skipped)]
        before, after = entries, [*kept, DayEntry(day(offset), 0.0)]
    else:
        before, after = entries, [*entries, DayEntry(day(offset), rule.target or 1.0)]
    assert (
        streaks(rule, after, TODAY, pauses).longest >= streaks(rule, before, TODAY, pauses).longest
    )


@settings(max_examples=200, deadline=None)
@given(rule=rules, entries=entry_lists, pauses=pause_lists, offset=offsets)
def test_property_a_skip_day_never_lowers_current(
    rule: HabitRule, entries: list[DayEntry], pauses: list[Pause], offset: int
) -> None:
    with_skip = [*entries, DayEntry(day(offset), skipped=True)]
    assert (
        streaks(rule, with_skip, TODAY, pauses).current
        >= streaks(rule, entries, TODAY, pauses).current
    )


@settings(max_examples=200, deadline=None)
@given(rule=rules, entries=entry_lists, pauses=pause_lists)
def test_property_strength_stays_within_zero_and_one(
    rule: HabitRule, entries: list[DayEntry], pauses: list[Pause]
) -> None:
    assert 0.0 <= strength(rule, entries, TODAY, pauses) <= 1.0


@settings(max_examples=100, deadline=None)
@given(rule=rules, length=st.integers(1, 60))
def test_property_strength_never_falls_while_every_day_is_met(rule: HabitRule, length: int) -> None:
    at_most = rule.target is not None and rule.target_kind is TargetKind.AT_MOST
    value = 0.0 if at_most else (rule.target or 1.0)
    entries = [DayEntry(day(-length + i), value) for i in range(length + 1)]
    scores = [strength(rule, entries, day(-length + i)) for i in range(length + 1)]
    assert all(b >= a - 1e-12 for a, b in zip(scores, scores[1:], strict=False))
