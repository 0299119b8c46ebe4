from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from luna.domain.localday import (
    DEFAULT_DAY_START,
    combine_local,
    local_date,
    local_now,
    parse_hhmm,
    zone,
)

NY = "America/New_York"


def test_zone_returns_zoneinfo_for_a_valid_name() -> None:
    assert zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "America", "../etc/passwd"])
def test_zone_rejects_unknown_names_with_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        zone(name)


def test_log_at_0130_with_day_start_0300_counts_for_the_previous_day() -> None:
    instant = datetime(2026, 5, 13, 1, 30, tzinfo=ZoneInfo(NY))
    assert DEFAULT_DAY_START == time(3, 0)
    assert local_date(instant, NY) == date(2026, 5, 12)


def test_log_at_day_start_belongs_to_the_new_day() -> None:
    instant = datetime(2026, 5, 13, 3, 0, tzinfo=ZoneInfo(NY))
    assert local_date(instant, NY) == date(2026, 5, 13)


def test_local_date_with_midnight_day_start_is_the_calendar_date() -> None:
    instant = datetime(2026, 5, 13, 0, 1, tzinfo=ZoneInfo(NY))
    assert local_date(instant, NY, time(0, 0)) == date(2026, 5, 13)


def test_local_date_converts_the_instant_into_the_given_zone() -> None:
    instant = datetime(2026, 5, 13, 2, 0, tzinfo=UTC)  # 22:00 on the 12th in New York
    assert local_date(instant, NY) == date(2026, 5, 12)
    assert local_date(instant, "Asia/Tokyo") == date(2026, 5, 13)


def test_local_date_rejects_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2026, 5, 13, 12, 0), NY)


def test_local_now_is_aware_and_on_the_local_clock() -> None:
    now = local_now(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "Europe/Berlin")
    assert now.tzinfo is not None
    assert (now.hour, now.utcoffset()) == (14, timedelta(hours=2))


def test_combine_local_in_a_dst_gap_moves_forward_by_the_gap() -> None:
    at = combine_local(date(2026, 3, 8), time(2, 30), NY)
    assert (at.hour, at.minute) == (3, 30)
    assert at.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_combine_local_for_an_ambiguous_time_takes_the_first_occurrence() -> None:
    at = combine_local(date(2026, 11, 1), time(1, 30), NY)
    assert at.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # still EDT


def test_combine_local_for_an_ordinary_time_keeps_the_wall_clock() -> None:
    at = combine_local(date(2026, 6, 1), time(18, 30), "Europe/Berlin")
    assert (at.date(), at.time()) == (date(2026, 6, 1), time(18, 30))
    assert at.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("18:30", time(18, 30)), ("07:05", time(7, 5)), ("7:05", time(7, 5)), (" 00:00 ", time(0))],
)
def test_parse_hhmm_accepts_24_hour_times(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["24:00", "18:60", "1830", "6pm", "", "18:30:00", "-1:00"])
def test_parse_hhmm_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)
