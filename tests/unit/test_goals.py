from datetime import date

import pytest

from luna.domain.goals import Timeframe, default_target_date, progress


def test_progress_is_the_floored_percentage_towards_the_target() -> None:
    assert progress(1, 3) == 33
    assert progress(2, 3) == 66


def test_progress_reaches_100_exactly_at_the_target_and_caps_beyond() -> None:
    assert progress(10, 10) == 100
    assert progress(12, 10) == 100


def test_progress_is_floored_so_almost_done_is_not_100() -> None:
    assert progress(99.9, 100) == 99


def test_progress_ignores_float_noise_when_rounding_down() -> None:
    assert progress(0.29, 1) == 29


def test_progress_works_for_decreasing_goals() -> None:
    assert progress(85, 80, baseline=90) == 50
    assert progress(80, 80, baseline=90) == 100
    assert progress(92, 80, baseline=90) == 0


def test_progress_is_zero_without_a_target_or_a_measurable_distance() -> None:
    assert progress(5, None) == 0
    assert progress(None, 10) == 0
    assert progress(5, 3, baseline=3) == 0


def test_progress_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError):
        progress(float("nan"), 10)


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        (Timeframe.DAILY, date(2026, 5, 13)),
        (Timeframe.WEEKLY, date(2026, 5, 17)),
        (Timeframe.MONTHLY, date(2026, 5, 31)),
        (Timeframe.QUARTERLY, date(2026, 6, 30)),
        (Timeframe.YEARLY, date(2026, 12, 31)),
        (Timeframe.LONG_TERM, None),
    ],
)
def test_default_target_date_is_the_end_of_the_period(
    timeframe: Timeframe, expected: date | None
) -> None:
    assert default_target_date(timeframe, date(2026, 5, 13)) == expected  # a Wednesday


def test_default_target_date_for_a_sunday_week_is_that_sunday() -> None:
    assert default_target_date(Timeframe.WEEKLY, date(2026, 5, 17)) == date(2026, 5, 17)


def test_default_target_date_handles_leap_february_and_q1() -> None:
    assert default_target_date(Timeframe.MONTHLY, date(2028, 2, 3)) == date(2028, 2, 29)
    assert default_target_date(Timeframe.QUARTERLY, date(2026, 1, 1)) == date(2026, 3, 31)
    assert default_target_date(Timeframe.QUARTERLY, date(2026, 12, 1)) == date(2026, 12, 31)
