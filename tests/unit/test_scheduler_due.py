"""What is due, with a frozen clock: DST in New York and Berlin, travel, quiet hours, opt-out,
catch-up after downtime, habit suppression, deadlines, overdue digests and critical escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from luna.scheduler.due import (
    ChoreSlot,
    Due,
    HabitSlot,
    MemberState,
    Quiet,
    Rules,
    Sent,
    TaskSlot,
    lead,
    plan,
)

NO_QUIET = Quiet(time(0), time(0))
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def every_day(first: date, n: int = 10) -> frozenset[date]:
    return frozenset(first + timedelta(days=i) for i in range(n))


def simulate(
    m: MemberState,
    start: datetime,
    end: datetime,
    *,
    step: timedelta = timedelta(minutes=5),
    wakeups: bool = False,
    zones: dict[datetime, str] | None = None,
    inbound: dict[datetime, datetime] | None = None,
    rules: Rules | None = None,
) -> list[tuple[datetime, Due]]:
    """Plan `m` tick by tick (or only at its wake-up times), as the runner would; a nudge
    scheduled ahead counts from its own moment, as the store records it."""
    sent: dict[str, Sent] = dict(m.sent)
    since: datetime | None = None
    previous_tz: str | None = None
    next_at = start
    out: list[tuple[datetime, Due]] = []
    t = start
    while t <= end:
        for at, tz in (zones or {}).items():
            if at == t:
                m = replace(m, tz=tz)
                next_at = t  # a profile change marks the member for planning
        for at, last in (inbound or {}).items():
            if at == t:
                m = replace(m, last_inbound_at=last)
        if not wakeups or t >= next_at:
            p = plan(replace(m, sent=sent), t, since=since, previous_tz=previous_tz, rules=rules)
            for n in p.nudges:
                if n.action == "schedule":
                    sent[n.key] = Sent("scheduled", n.due_at)
                else:
                    sent[n.key] = Sent("sent" if n.action == "send" else n.action, t)
                out.append((t, n))
            since, previous_tz = t, m.tz
            assert p.next_at is not None and p.next_at > t
            next_at = p.next_at
        t += step
    return out


Events = list[tuple[datetime, Due]]


def sends(events: Events, kind: str | None = None) -> Events:
    return [(t, n) for t, n in events if n.action == "send" and (kind is None or n.kind == kind)]


def member(tz: str = "America/New_York", **kw: object) -> MemberState:
    return MemberState(member_id=1, tz=tz, **kw)  # type: ignore[arg-type]


# -- briefings and reflections -------------------------------------------------------------------


def test_a_plain_day_brings_one_briefing_at_seven_and_one_reflection_at_nine() -> None:
    events = simulate(member(), utc(2026, 3, 4, 5), utc(2026, 3, 5, 5))
    assert [(t, n.kind, n.channel) for t, n in sends(events)] == [
        (utc(2026, 3, 4, 12), "morning_briefing", "sms"),
        (utc(2026, 3, 5, 2), "evening_reflection", "sms"),
    ]
    assert [n.key for _, n in events] == [
        "m1:morning_briefing:2026-03-04", "m1:evening_reflection:2026-03-04",
    ]


def test_prefer_voice_makes_check_ins_calls() -> None:
    events = simulate(member(prefer_voice=True), utc(2026, 3, 4, 5), utc(2026, 3, 5, 5))
    assert {n.channel for _, n in sends(events)} == {"call"}


def test_a_day_without_check_ins_still_wakes_the_member_daily() -> None:
    p = plan(member(morning=None, evening=None), utc(2026, 3, 4, 5), since=None)
    assert p.nudges == () and p.next_at == utc(2026, 3, 5, 5)


@pytest.mark.parametrize("tz, days, briefings", [
    # Spring forward: 07:00 moves from 12:00Z to 11:00Z.
    ("America/New_York", (date(2026, 3, 7), date(2026, 3, 9)),
     [utc(2026, 3, 7, 12), utc(2026, 3, 8, 11), utc(2026, 3, 9, 11)]),
    ("America/New_York", (date(2026, 10, 31), date(2026, 11, 2)),
     [utc(2026, 10, 31, 11), utc(2026, 11, 1, 12), utc(2026, 11, 2, 12)]),
    ("Europe/Berlin", (date(2026, 3, 28), date(2026, 3, 30)),
     [utc(2026, 3, 28, 6), utc(2026, 3, 29, 5), utc(2026, 3, 30, 5)]),
    ("Europe/Berlin", (date(2026, 10, 24), date(2026, 10, 26)),
     [utc(2026, 10, 24, 5), utc(2026, 10, 25, 6), utc(2026, 10, 26, 6)]),
])
def test_one_briefing_per_local_day_across_dst(
    tz: str, days: tuple[date, date], briefings: list[datetime]
) -> None:
    start = datetime.combine(days[0], time(0), tzinfo=UTC) - timedelta(hours=3)
    end = datetime.combine(days[1], time(23), tzinfo=UTC)
    events = simulate(member(tz, evening=None), start, end)
    assert [t for t, _ in sends(events, "morning_briefing")] == briefings


@pytest.mark.parametrize("tz, day, reminder, fires", [
    # 02:30 does not exist on the spring-forward night: it fires at 03:30 daylight time.
    ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),
    ("Europe/Berlin", date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 30)),
    # 01:30 (New York) and 02:30 (Berlin) happen twice in the autumn: only the first counts.
    ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
    ("Europe/Berlin", date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30)),
])
def test_habit_reminders_in_dst_gaps_move_forward_and_repeated_times_fire_once(
    tz: str, day: date, reminder: time, fires: datetime
) -> None:
    habit = HabitSlot(7, "Stretch", reminder, LONG_AGO, frozenset({day}))
    m = member(tz, morning=None, evening=None, quiet=NO_QUIET, habits=(habit,),
               day_start=time(0))
    start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=6)
    events = simulate(m, start, start + timedelta(hours=30))
    assert [(t, n.key) for t, n in sends(events)] == [(fires, f"m1:habit_reminder:7:{day}")]


# -- travel -----------------------------------------------------------------------------------


def test_flying_west_after_the_briefing_does_not_bring_a_second_one() -> None:
    # Briefed in Berlin at 07:00 (06:00Z); at 10:00Z the member is in New York, where it is
    # 06:00 on the same date and 07:00 is still ahead.
    events = simulate(member("Europe/Berlin", evening=None), utc(2026, 3, 10, 0),
                      utc(2026, 3, 11, 12), zones={utc(2026, 3, 10, 10): "America/New_York"})
    assert [(t, n.key) for t, n in sends(events)] == [
        (utc(2026, 3, 10, 6), "m1:morning_briefing:2026-03-10"),
        (utc(2026, 3, 11, 11), "m1:morning_briefing:2026-03-11"),
    ]


def test_flying_east_before_the_briefing_does_not_skip_it() -> None:
    # At 10:00Z it is 05:00 in New York (no briefing yet) and already 11:00 in Berlin, whose
    # 07:00 has passed: the briefing for the 10th goes out on arrival, once.
    events = simulate(member(evening=None), utc(2026, 3, 10, 0), utc(2026, 3, 12, 0),
                      zones={utc(2026, 3, 10, 10): "Europe/Berlin"})
    assert [(t, n.key, n.reason) for t, n in sends(events)] == [
        (utc(2026, 3, 10, 10), "m1:morning_briefing:2026-03-10", "timezone change"),
        (utc(2026, 3, 11, 6), "m1:morning_briefing:2026-03-11", None),
    ]


def test_a_round_trip_gives_exactly_one_briefing_per_local_date() -> None:
    events = simulate(
        member(evening=None), utc(2026, 3, 10, 0), utc(2026, 3, 14, 0),
        zones={utc(2026, 3, 10, 10): "Asia/Tokyo", utc(2026, 3, 12, 3): "America/New_York"},
    )
    keys = [n.key for _, n in sends(events)]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == [f"m1:morning_briefing:2026-03-{d}" for d in (10, 11, 12, 13)]


# -- quiet hours, opt-out, catch-up -------------------------------------------------------------


def test_quiet_hours_suppress_reminders_but_not_a_reflection_the_member_scheduled() -> None:
    late = HabitSlot(3, "Read", time(22, 0), LONG_AGO, every_day(date(2026, 3, 3)))
    m = member(evening=time(22, 30), morning=None, habits=(late,))
    events = simulate(m, utc(2026, 3, 4, 12), utc(2026, 3, 5, 12))
    assert [(n.kind, n.action, n.reason) for _, n in events] == [
        ("habit_reminder", "suppress", "quiet hours"),
        ("evening_reflection", "send", None),
    ]


def test_an_alert_due_inside_quiet_hours_waits_for_them_to_end() -> None:
    task = TaskSlot(5, "Submit form", utc(2026, 3, 5, 12, 30), LONG_AGO)  # 07:30 New York
    m = member(morning=None, evening=None, tasks=(task,))
    events = simulate(m, utc(2026, 3, 4, 20), utc(2026, 3, 5, 12, 20))
    assert [(t, n.kind) for t, n in sends(events)] == [(utc(2026, 3, 5, 12), "deadline")]


def test_an_opted_out_member_gets_nothing_and_each_nudge_is_logged_suppressed() -> None:
    events = simulate(member(opted_out=True), utc(2026, 3, 4, 5), utc(2026, 3, 5, 5))
    assert sends(events) == []
    assert [(n.kind, n.reason) for _, n in events] == [
        ("morning_briefing", "sms opt-out"), ("evening_reflection", "sms opt-out"),
    ]


def test_a_member_without_a_phone_is_not_planned() -> None:
    p = plan(member(has_phone=False), utc(2026, 3, 4, 12, 5), since=utc(2026, 3, 4, 11))
    assert p.nudges == ()


def test_after_downtime_a_nudge_less_than_30_minutes_late_still_goes_out() -> None:
    p = plan(member(), utc(2026, 3, 4, 12, 29), since=utc(2026, 3, 4, 11, 50))
    assert [(n.kind, n.action) for n in p.nudges] == [("morning_briefing", "send")]


def test_after_downtime_an_older_nudge_is_skipped_with_the_reason() -> None:
    p = plan(member(), utc(2026, 3, 4, 12, 31), since=utc(2026, 3, 4, 11, 50))
    assert [(n.kind, n.action, n.reason) for n in p.nudges] == [
        ("morning_briefing", "skip", "missed by 31 min"),
    ]


def test_a_long_outage_looks_back_only_so_far() -> None:
    p = plan(member(), utc(2026, 3, 10, 13), since=utc(2026, 3, 1))
    days = sorted({n.local_date for n in p.nudges})
    assert days[0] >= date(2026, 3, 8) and all(n.action == "skip" for n in p.nudges[:-1])


def test_what_was_already_claimed_is_never_planned_again() -> None:
    sent = {"m1:morning_briefing:2026-03-04": Sent("sent", utc(2026, 3, 4, 12))}
    p = plan(member(sent=sent), utc(2026, 3, 4, 12, 5), since=utc(2026, 3, 4, 11, 59))
    assert p.nudges == ()


def test_planning_the_same_instant_twice_plans_nothing_twice() -> None:
    m = member()
    first = plan(m, utc(2026, 3, 4, 12), since=utc(2026, 3, 4, 11))
    again = plan(m, utc(2026, 3, 4, 12), since=utc(2026, 3, 4, 12))
    assert len(first.nudges) == 1 and again.nudges == ()


# -- habits, deadlines, overdue --------------------------------------------------------------------


def test_a_habit_reminder_is_suppressed_when_the_habit_is_logged_for_the_local_day() -> None:
    walk = HabitSlot(2, "Walk", time(18, 0), LONG_AGO, every_day(date(2026, 3, 3)),
                     logged_days=frozenset({date(2026, 3, 4)}))
    events = simulate(member(morning=None, evening=None, habits=(walk,)),
                      utc(2026, 3, 4, 5), utc(2026, 3, 6, 5))
    assert [(n.local_date, n.action, n.reason) for _, n in events] == [
        (date(2026, 3, 4), "suppress", "already logged"), (date(2026, 3, 5), "send", None),
    ]


def test_a_habit_created_after_its_reminder_time_waits_for_tomorrow() -> None:
    walk = HabitSlot(2, "Walk", time(8, 0), utc(2026, 3, 4, 15), every_day(date(2026, 3, 3)))
    events = simulate(member(morning=None, evening=None, habits=(walk,)),
                      utc(2026, 3, 4, 12), utc(2026, 3, 5, 15))
    assert [n.local_date for _, n in events] == [date(2026, 3, 5)]


def test_a_deadline_alert_goes_out_once_an_hour_before_and_again_after_a_reschedule() -> None:
    task = TaskSlot(9, "Call the school", utc(2026, 3, 4, 20), LONG_AGO)
    m = member(morning=None, evening=None, tasks=(task,))
    events = simulate(m, utc(2026, 3, 4, 12), utc(2026, 3, 4, 19, 50))
    assert [(t, n.key) for t, n in sends(events)] == [
        (utc(2026, 3, 4, 19), "m1:deadline:9:20260304T2000Z"),
    ]
    moved = replace(task, due_at=utc(2026, 3, 4, 21))
    later = plan(replace(m, tasks=(moved,), sent={n.key: Sent("sent", t) for t, n in events}),
                 utc(2026, 3, 4, 20), since=utc(2026, 3, 4, 19, 50))
    assert [(n.key, n.action) for n in later.nudges] == [
        ("m1:deadline:9:20260304T2100Z", "send"),
    ]


def test_a_task_created_inside_its_lead_time_gets_no_alert() -> None:
    task = TaskSlot(9, "Call", utc(2026, 3, 4, 20), created_at=utc(2026, 3, 4, 19, 30))
    events = simulate(member(morning=None, evening=None, tasks=(task,)),
                      utc(2026, 3, 4, 19, 30), utc(2026, 3, 4, 19, 59))
    assert events == []


def test_overdue_items_are_grouped_once_then_at_most_daily() -> None:
    tasks = (
        TaskSlot(1, "Taxes", utc(2026, 3, 4, 20), LONG_AGO),      # 15:00 New York
        TaskSlot(2, "Renew passport", utc(2026, 3, 2, 15), LONG_AGO),
    )
    chores = (ChoreSlot(4, "Dishes", utc(2026, 3, 4, 19, 55)),)
    m = member(morning=None, evening=None, tasks=tasks, chores=chores)
    events = [e for e in simulate(m, utc(2026, 3, 4, 16), utc(2026, 3, 7, 4))
              if e[1].kind == "overdue_digest"]
    assert [(t, n.local_date) for t, n in events] == [
        (utc(2026, 3, 4, 17), date(2026, 3, 4)),  # noon: the passport, overdue since Monday
        (utc(2026, 3, 5, 17), date(2026, 3, 5)),
        (utc(2026, 3, 6, 17), date(2026, 3, 6)),
    ]
    assert set(events[1][1].items) == {("task", 1), ("task", 2), ("chore", 4)}


def test_a_fresh_overdue_item_is_nudged_soon_after_its_due_time() -> None:
    task = TaskSlot(1, "Taxes", utc(2026, 3, 4, 20), LONG_AGO)
    m = member(morning=None, evening=None, tasks=(task,))
    events = [e for e in simulate(m, utc(2026, 3, 4, 12), utc(2026, 3, 5, 18))
              if e[1].kind == "overdue_digest"]
    assert [t for t, _ in events] == [utc(2026, 3, 4, 20, 15), utc(2026, 3, 5, 17)]


# -- critical items ----------------------------------------------------------------------------


def test_an_unanswered_critical_item_escalates_sms_then_call_then_backup() -> None:
    pill = TaskSlot(8, "Insulin", utc(2026, 3, 4, 23), LONG_AGO, critical=True)
    m = member(morning=None, evening=None, tasks=(pill,), quiet=Quiet(time(17), time(7)))
    events = simulate(m, utc(2026, 3, 4, 20), utc(2026, 3, 5, 1))
    critical = [(t, n.step, n.channel) for t, n in sends(events, "critical")]
    assert critical == [
        (utc(2026, 3, 4, 22), 1, "sms"),
        (utc(2026, 3, 4, 22, 15), 2, "call"),
        (utc(2026, 3, 4, 22, 30), 3, "sms"),
    ]
    assert not [n for _, n in events if n.kind == "deadline"]


def test_an_answer_stops_the_escalation() -> None:
    pill = TaskSlot(8, "Insulin", utc(2026, 3, 4, 23), LONG_AGO, critical=True)
    m = member(morning=None, evening=None, tasks=(pill,))
    events = simulate(m, utc(2026, 3, 4, 20), utc(2026, 3, 5, 1),
                      inbound={utc(2026, 3, 4, 22, 5): utc(2026, 3, 4, 22, 4)})
    assert [n.step for _, n in sends(events, "critical")] == [1]


# -- wake-ups ------------------------------------------------------------------------------------


def test_waking_only_at_next_at_sends_what_a_tick_every_minute_sends() -> None:
    habits = (
        HabitSlot(1, "Run", time(6, 45), LONG_AGO, every_day(date(2026, 3, 1))),
        HabitSlot(2, "Floss", time(21, 10), LONG_AGO, every_day(date(2026, 3, 1))),
    )
    tasks = (
        TaskSlot(3, "Report", utc(2026, 3, 5, 15), LONG_AGO),
        TaskSlot(4, "Meds", utc(2026, 3, 5, 1), LONG_AGO, critical=True),
    )
    m = member("Europe/Berlin", habits=habits, tasks=tasks,
               chores=(ChoreSlot(5, "Trash", utc(2026, 3, 4, 18)),))
    start, end, step = utc(2026, 3, 4, 0), utc(2026, 3, 6, 0), timedelta(minutes=2)
    every_minute = [(t, n.key, n.action) for t, n in simulate(m, start, end, step=step)]
    woken = [(t, n.key, n.action) for t, n in simulate(m, start, end, step=step, wakeups=True)]
    assert woken == every_minute
    assert len(every_minute) > 10


def test_quiet_hours_wrap_midnight() -> None:
    q = Quiet(time(21, 30), time(7, 0))
    assert q.contains(time(23)) and q.contains(time(3)) and q.contains(time(21, 30))
    assert not q.contains(time(7)) and not q.contains(time(12))
    assert Quiet(time(13), time(14)).contains(time(13, 30))
    assert not NO_QUIET.contains(time(3))


def test_rules_are_tunable() -> None:
    rules = Rules(catchup=timedelta(minutes=5))
    p = plan(member(), utc(2026, 3, 4, 12, 6), since=utc(2026, 3, 4, 11), rules=rules)
    assert [n.action for n in p.nudges] == ["skip"]


def test_a_nudge_left_for_retry_is_planned_again_while_it_is_fresh() -> None:
    key = "m1:morning_briefing:2026-03-04"
    m = member(sent={key: Sent("retry", utc(2026, 3, 4, 12))})
    again = plan(m, utc(2026, 3, 4, 12, 1), since=utc(2026, 3, 4, 12))
    assert [(n.key, n.action, n.retry) for n in again.nudges] == [(key, "send", True)]
    stale = plan(m, utc(2026, 3, 4, 12, 45), since=utc(2026, 3, 4, 12))
    assert [(n.action, n.retry) for n in stale.nudges] == [("skip", True)]


# -- planning ahead ------------------------------------------------------------------------------

AHEAD = Rules(plan_ahead=timedelta(minutes=15))


def test_each_member_plans_ahead_by_their_own_share_spread_evenly_over_the_window() -> None:
    leads = [lead(mid, AHEAD) for mid in range(1, 3001)]
    assert all(timedelta(0) <= x < AHEAD.plan_ahead for x in leads)
    per_minute = [sum(1 for x in leads if x // timedelta(minutes=1) == i) for i in range(15)]
    assert min(per_minute) >= 180 and max(per_minute) <= 220  # 200 each when perfectly even
    assert lead(7, AHEAD) == lead(7, AHEAD)
    assert lead(7, Rules()) == timedelta(0)


def test_a_nudge_within_the_members_lead_is_scheduled_and_the_next_wake_up_comes_early() -> None:
    m = member(evening=None)
    early = lead(m.member_id, AHEAD)
    seven = utc(2026, 3, 4, 12)
    p = plan(m, seven - early, since=seven - timedelta(hours=1), rules=AHEAD)
    assert [(n.kind, n.action, n.due_at) for n in p.nudges] == [
        ("morning_briefing", "schedule", seven)]
    tomorrow = utc(2026, 3, 5, 12)
    assert p.next_at == tomorrow - early
    before = plan(m, seven - early - timedelta(seconds=1), since=seven - timedelta(hours=1),
                  rules=AHEAD)
    assert before.nudges == () and before.next_at == seven - early


def test_quiet_hours_are_judged_at_the_moment_a_scheduled_reminder_goes_out() -> None:
    run = HabitSlot(1, "Run", time(7), LONG_AGO, every_day(date(2026, 3, 1)))
    m = member(morning=None, evening=None, habits=(run,))  # quiet until 07:00
    seven = utc(2026, 3, 4, 12)
    p = plan(m, seven - lead(1, AHEAD), since=seven - timedelta(hours=1), rules=AHEAD)
    assert [(n.kind, n.action) for n in p.nudges] == [("habit_reminder", "schedule")]


def test_a_later_escalation_step_is_decided_only_at_its_moment() -> None:
    """Whether the member answered is known only then."""
    pill = TaskSlot(8, "Insulin", utc(2026, 3, 4, 23), LONG_AGO, critical=True)
    m = member(morning=None, evening=None, tasks=(pill,), sent={
        "m1:critical:8:20260304T2300Z:1": Sent("sent", utc(2026, 3, 4, 22))})
    call_at = utc(2026, 3, 4, 22, 15)
    p = plan(m, call_at - timedelta(minutes=1), since=utc(2026, 3, 4, 22), rules=AHEAD)
    assert p.nudges == () and p.next_at == call_at
    assert [n.step for n in plan(m, call_at, since=call_at - timedelta(minutes=1),
                                 rules=AHEAD).nudges] == [2]


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Berlin"])
def test_planning_ahead_decides_exactly_what_planning_at_the_moment_decides(tz: str) -> None:
    habits = (
        HabitSlot(1, "Run", time(6, 45), LONG_AGO, every_day(date(2026, 3, 1))),
        HabitSlot(2, "Floss", time(22, 10), LONG_AGO, every_day(date(2026, 3, 1))),
    )
    tasks = (
        TaskSlot(3, "Report", utc(2026, 3, 5, 15), LONG_AGO),
        TaskSlot(4, "Meds", utc(2026, 3, 5, 1), LONG_AGO, critical=True),
    )
    for mid in (1, 2, 5):  # three different leads
        m = replace(member(tz, habits=habits, tasks=tasks,
                           chores=(ChoreSlot(5, "Trash", utc(2026, 3, 4, 18)),)), member_id=mid)
        start, end = utc(2026, 3, 4, 0), utc(2026, 3, 6, 0)
        step = timedelta(minutes=1)
        at_moment = simulate(m, start, end, step=step, wakeups=True)
        ahead = simulate(m, start, end, step=step, wakeups=True, rules=AHEAD)
        assert [(n.key, n.due_at, n.action) for _, n in at_moment] == [
            (n.key, n.due_at, "send" if n.action == "schedule" else n.action) for _, n in ahead]
        assert any(n.action == "schedule" for _, n in ahead) and len(ahead) > 10
