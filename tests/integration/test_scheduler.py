"""The scheduler over the real services, on SQLite and PostgreSQL: a simulated day sends each
nudge exactly once through the outbox, never in quiet hours, never to someone who opted out;
replanning, ticking twice or ticking from two schedulers at once sends nothing twice."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, update

from luna.channels.app import create_app
from luna.config import SchedulerSettings, Settings, load_settings
from luna.db.models import Base, Household, MemberSchedule, Message, Nudge, UsageRecord
from luna.db.schedule_tracking import STALE
from luna.scheduler.due import Quiet, lead
from luna.scheduler.runner import InProcessScheduler, Scheduler
from luna.services.access import ADMIN, Actor
from luna.services.container import Services
from luna.testing.clock import FrozenClock

DAY_START = datetime(2026, 3, 4, 5, tzinfo=UTC)  # midnight in New York
DAY_END = DAY_START + timedelta(days=1)
EXEMPT = {"morning_briefing", "evening_reflection", "critical"}


@dataclass
class People:
    household_id: int
    maya: int
    ava: int
    ben: int
    kim: int

    def actor(self, member_id: int, role: str = "adult") -> Actor:
        return Actor(self.household_id, member_id, role)  # type: ignore[arg-type]


def settings_for(services: Services) -> Settings:
    return load_settings(env="test", database_url=services.db.url)


async def make_people(services: Services) -> People:
    m = services.members
    h = await m.create_household(ADMIN, name="Rivera", timezone="America/New_York",
                                 admin_name="Maya", admin_phone="+15550100001")
    maya = h.admin_member_id
    admin = Actor(h.id, maya, "adult")
    ava = (await m.add_member(admin, name="Ava", role="child", phone="+15550100002")).id
    await m.update(admin, ava, {"sms_opt_out": True})
    ben = (await m.add_member(
        admin, name="Ben", phone="+15550100003", timezone="Europe/Berlin",
        preferences={"prefer_voice": True, "evening_checkin": "22:30"},
    )).id
    kim = (await m.add_member(admin, name="Kim")).id
    return People(h.id, maya, ava, ben, kim)


async def run(
    scheduler: Scheduler, clock: FrozenClock, start: datetime, end: datetime,
    step: timedelta = timedelta(minutes=2),
) -> None:
    t = start
    while t < end:
        clock.set(t)
        await scheduler.tick(t)
        t += step


async def nudges(services: Services) -> list[Nudge]:
    async with services.db.read() as s:
        return list(await s.scalars(select(Nudge).order_by(Nudge.id)))


async def outbox(services: Services) -> list[Message]:
    async with services.db.read() as s:
        return list(await s.scalars(
            select(Message).where(Message.kind == "sms", Message.status == "outbox")
            .order_by(Message.id)
        ))


def in_quiet(at: datetime, tz: str) -> bool:
    return Quiet().contains(at.astimezone(ZoneInfo(tz)).time())


@pytest.fixture
async def people(services: Services) -> People:
    return await make_people(services)


@pytest.fixture
def scheduler(services: Services) -> Scheduler:
    return Scheduler(services, settings_for(services))


async def test_a_simulated_day_sends_each_nudge_once_and_never_in_quiet_hours(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    clock.set(DAY_START - timedelta(hours=1))
    maya = people.actor(people.maya)
    walk = await services.habits.create(maya, name="Walk", reminder_time="18:00")
    await services.habits.create(maya, name="Read", reminder_time="22:00")
    stretch = await services.habits.create(maya, name="Stretch", reminder_time="07:30")
    await services.tasks.create(maya, title="Call school",
                                due_at=datetime(2026, 3, 4, 20, tzinfo=UTC))
    await services.tasks.create(maya, title="Renew passport",
                                due_at=datetime(2026, 3, 2, 15, tzinfo=UTC))
    await services.habits.create(people.actor(people.ava, "child"), name="Piano",
                                 reminder_time="16:00")
    morning = datetime(2026, 3, 4, 12, 10, tzinfo=UTC)  # 07:10, before the 07:30 reminder
    await run(scheduler, clock, DAY_START, morning)
    await services.habits.log(maya, stretch.id)
    await run(scheduler, clock, morning, DAY_END)

    rows = await nudges(services)
    by_key = {n.key: n for n in rows}
    assert len(by_key) == len(rows)
    sent = [n for n in rows if n.status == "sent"]
    assert {(n.member_id, n.kind) for n in sent} == {
        (people.maya, "morning_briefing"), (people.maya, "evening_reflection"),
        (people.maya, "habit_reminder"), (people.maya, "deadline"),
        (people.maya, "overdue_digest"),
        (people.ben, "morning_briefing"), (people.ben, "evening_reflection"),
    }
    assert by_key[f"m{people.maya}:habit_reminder:{walk.id}:2026-03-04"].status == "sent"
    stretch_nudge = by_key[f"m{people.maya}:habit_reminder:{stretch.id}:2026-03-04"]
    assert (stretch_nudge.status, stretch_nudge.detail["reason"]) == ("suppressed",
                                                                      "already logged")
    read = [n for n in rows if n.kind == "habit_reminder" and n.status == "suppressed"
            and n.detail.get("reason") == "quiet hours"]
    assert len(read) == 1
    # The opted-out child: everything decided, nothing sent.
    assert {n.status for n in rows if n.member_id == people.ava} == {"suppressed"}
    assert not [n for n in rows if n.member_id == people.kim]

    messages = await outbox(services)
    assert len(messages) == len(sent)
    assert all(m.to_member_ids != [people.ava] for m in messages)
    zones = {people.maya: "America/New_York", people.ben: "Europe/Berlin"}
    for n in sent:
        assert n.sent_at is not None
        if n.kind not in EXEMPT:
            assert not in_quiet(n.sent_at, zones[n.member_id]), n.key
    for m in messages:
        assert m.to_phone in {"+15550100001", "+15550100003"}
    # Ben prefers calls; without Twilio they go out as texts, and say so.
    ben_checkins = [n for n in sent if n.member_id == people.ben]
    assert {(n.channel, n.detail.get("fallback")) for n in ben_checkins} == {("call", "sms")}
    # His reflection is at 22:30 Berlin, inside his quiet hours: his choice, so it went out.
    reflection = by_key[f"m{people.ben}:evening_reflection:2026-03-04"]
    assert reflection.sent_at == datetime(2026, 3, 4, 21, 30, tzinfo=UTC)


async def test_the_morning_briefing_says_what_get_daily_briefing_says(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    maya = people.actor(people.maya)
    clock.set(DAY_START)
    await services.tasks.create(maya, title="Dentist", due_at=datetime(2026, 3, 4, 19,
                                                                      tzinfo=UTC))
    await services.members.update(maya, people.maya, {"ai_context": {
        "learning_data": {"recent_wins": ["ran 5k on Sunday"]}}})
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=7, minutes=1),
              step=timedelta(minutes=5))
    text = next(m.body for m in await outbox(services) if m.to_member_ids == [people.maya])
    assert text.startswith("Good morning, Maya!") and "Dentist" in text
    assert "ran 5k on Sunday" in text


async def test_ticking_the_same_instant_twice_sends_nothing_twice(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    seven = datetime(2026, 3, 4, 12, tzinfo=UTC)
    clock.set(seven - timedelta(minutes=5))
    await scheduler.tick()
    clock.set(seven)
    first = await scheduler.tick()
    again = await scheduler.tick()
    assert first.outcomes["sent"] == 1 and again.claimed == 0
    assert len(await outbox(services)) == 1


async def test_replanning_everything_from_scratch_sends_nothing_twice(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    """A crash that loses the schedule (or a bug that replans) is harmless: the keys hold."""
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=8),
              step=timedelta(minutes=10))
    before = len(await outbox(services))
    async with services.db.transaction() as s:
        await s.execute(update(MemberSchedule).values(
            next_fire_at=STALE, planned_through=DAY_START, timezone=None))
    stats = await scheduler.tick(DAY_START + timedelta(hours=8))
    assert stats.members == 4 and stats.claimed == 0
    assert len(await outbox(services)) == before == 2


async def test_two_schedulers_ticking_at_once_send_each_nudge_once(
    services: Services, people: People, clock: FrozenClock
) -> None:
    settings = settings_for(services)
    a, b = Scheduler(services, settings), Scheduler(services, settings)
    for m in range(3):
        await services.members.add_member(people.actor(people.maya), name=f"Cousin {m}",
                                          phone=f"+1555020000{m}")
    t = DAY_START
    while t < DAY_END:
        clock.set(t)
        await asyncio.gather(a.tick(t), b.tick(t))
        t += timedelta(minutes=15)
    rows = await nudges(services)
    sent = [n for n in rows if n.status == "sent"]
    assert len(sent) == len(await outbox(services)) == 2 * 5  # Maya, Ben, three cousins


async def test_a_send_that_failed_before_reaching_the_provider_is_retried_once_more(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = scheduler.content.render
    failures = []

    async def flaky(c: Any, member: Any) -> Any:
        if c.member_id == people.maya and not failures:
            failures.append(c.key)
            raise ConnectionError("database went away")
        return await real(c, member)

    monkeypatch.setattr(scheduler.content, "render", flaky)
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=7, minutes=10))
    maya = [n for n in await nudges(services) if n.member_id == people.maya]
    assert [(n.kind, n.status, n.detail.get("attempts")) for n in maya] == [
        ("morning_briefing", "sent", 1),
    ]
    assert maya[0].sent_at == datetime(2026, 3, 4, 12, 2, tzinfo=UTC)
    assert len([m for m in await outbox(services) if m.to_member_ids == [people.maya]]) == 1


async def test_after_downtime_a_briefing_under_30_minutes_late_goes_out(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=6, minutes=50),
              step=timedelta(minutes=10))
    clock.set(datetime(2026, 3, 4, 12, 20, tzinfo=UTC))  # back at 07:20
    await scheduler.tick()
    maya = [n for n in await nudges(services) if n.member_id == people.maya]
    assert [(n.kind, n.status) for n in maya] == [("morning_briefing", "sent")]


async def test_after_longer_downtime_the_briefing_is_skipped_and_logged(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=6, minutes=50),
              step=timedelta(minutes=10))
    clock.set(datetime(2026, 3, 4, 12, 45, tzinfo=UTC))
    await scheduler.tick()
    maya = [n for n in await nudges(services) if n.member_id == people.maya]
    assert [(n.kind, n.status, n.detail["reason"]) for n in maya] == [
        ("morning_briefing", "skipped", "missed by 45 min"),
    ]
    assert not [m for m in await outbox(services) if m.to_member_ids == [people.maya]]


SEVEN = datetime(2026, 3, 4, 12, tzinfo=UTC)  # Maya's 07:00 in New York


async def maya_nudges(services: Services, people: People) -> list[tuple[str, str]]:
    return [(n.kind, n.status) for n in await nudges(services) if n.member_id == people.maya]


async def maya_texts(services: Services, people: People) -> list[Message]:
    return [m for m in await outbox(services) if m.to_member_ids == [people.maya]]


async def schedule_mayas_briefing(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> datetime:
    """Tick at the moment Maya is planned ahead of her 07:00 briefing; that moment."""
    clock.set(DAY_START)
    await scheduler.tick()
    ahead = SEVEN - lead(people.maya, scheduler.store.rules)
    assert ahead < SEVEN
    clock.set(ahead)
    await scheduler.tick()
    return ahead


async def test_a_briefing_planned_ahead_waits_scheduled_and_goes_out_once_at_its_moment(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await schedule_mayas_briefing(services, people, scheduler, clock)
    assert await maya_nudges(services, people) == [("morning_briefing", "scheduled")]
    clock.set(SEVEN - timedelta(seconds=1))
    assert (await scheduler.tick()).claimed == 0
    assert await maya_texts(services, people) == []
    clock.set(SEVEN)
    assert (await scheduler.tick()).outcomes["sent"] == 1
    assert (await scheduler.tick()).claimed == 0
    assert await maya_nudges(services, people) == [("morning_briefing", "sent")]
    [text] = await maya_texts(services, people)
    assert text.body.startswith("Good morning")


async def test_a_scheduled_briefing_left_waiting_by_downtime_is_skipped_and_logged(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await schedule_mayas_briefing(services, people, scheduler, clock)
    clock.set(SEVEN + timedelta(minutes=45))
    await scheduler.tick()
    [briefing] = [n for n in await nudges(services) if n.member_id == people.maya]
    assert (briefing.status, briefing.detail["reason"]) == ("skipped", "missed by 45 min")
    assert await maya_texts(services, people) == []


async def test_moving_the_check_in_after_the_briefing_was_scheduled_sends_it_at_the_new_time(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await schedule_mayas_briefing(services, people, scheduler, clock)
    await services.members.update(people.actor(people.maya), people.maya,
                                  {"preferences": {"morning_checkin": "07:30"}})
    await run(scheduler, clock, SEVEN, SEVEN + timedelta(hours=1), step=timedelta(minutes=1))
    [briefing] = [n for n in await nudges(services) if n.member_id == people.maya]
    assert (briefing.status, briefing.due_at, briefing.sent_at) == (
        "sent", SEVEN + timedelta(minutes=30), SEVEN + timedelta(minutes=30))
    assert len(await maya_texts(services, people)) == 1


async def test_opting_out_after_the_briefing_was_scheduled_stops_it(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await schedule_mayas_briefing(services, people, scheduler, clock)
    await services.members.update(people.actor(people.maya), people.maya, {"sms_opt_out": True})
    await run(scheduler, clock, SEVEN, SEVEN + timedelta(minutes=10), step=timedelta(minutes=1))
    assert await maya_nudges(services, people) == [("morning_briefing", "suppressed")]
    assert await maya_texts(services, people) == []


async def test_a_habit_logged_after_its_reminder_was_scheduled_gets_no_reminder(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    clock.set(DAY_START)
    maya = people.actor(people.maya)
    walk = await services.habits.create(maya, name="Walk", reminder_time="08:00")
    eight = SEVEN + timedelta(hours=1)
    await run(scheduler, clock, DAY_START, eight - timedelta(seconds=1),
              step=timedelta(minutes=1))
    assert ("habit_reminder", "scheduled") in await maya_nudges(services, people)
    await services.habits.log(maya, walk.id)
    await run(scheduler, clock, eight, eight + timedelta(minutes=5))
    [reminder] = [n for n in await nudges(services) if n.kind == "habit_reminder"]
    assert (reminder.status, reminder.detail["reason"]) == ("skipped", "already logged")
    assert [m.body for m in await maya_texts(services, people) if "Reminder" in m.body] == []


async def test_concurrent_releases_hand_each_scheduled_nudge_to_one_taker(
    services: Services, people: People, clock: FrozenClock
) -> None:
    settings = settings_for(services)
    schedulers = [Scheduler(services, settings) for _ in range(4)]
    for m in range(8):
        await services.members.add_member(people.actor(people.maya), name=f"Cousin {m}",
                                          phone=f"+1555030000{m}")
    clock.set(DAY_START)
    await schedulers[0].tick()
    clock.set(SEVEN - timedelta(minutes=15))
    await schedulers[0].tick()
    clock.set(SEVEN - timedelta(seconds=1))
    await schedulers[0].tick()
    scheduled = [n.key for n in await nudges(services) if n.status == "scheduled"]
    assert len(scheduled) == 9  # Maya and the cousins (Ben's morning is Berlin's)
    taken = await asyncio.gather(*(s.store.release(SEVEN, 2) for s in schedulers * 3))
    keys = [c.key for batch in taken for c in batch]
    assert sorted(keys) == sorted(scheduled)
    assert {n.status for n in await nudges(services) if n.key in keys} == {"pending"}


async def test_a_critical_item_escalates_to_a_call_and_then_to_the_backup_member(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    clock.set(DAY_START)
    await services.members.update(people.actor(people.maya), people.maya, {
        "preferences": {"morning_checkin": None, "evening_checkin": None}})
    await services.tasks.create(people.actor(people.maya), title="Insulin", critical=True,
                                due_at=datetime(2026, 3, 4, 17, tzinfo=UTC))
    await run(scheduler, clock, datetime(2026, 3, 4, 15, 30, tzinfo=UTC),
              datetime(2026, 3, 4, 17, tzinfo=UTC), step=timedelta(minutes=5))
    critical = [n for n in await nudges(services) if n.kind == "critical"]
    assert [(n.detail["step"], n.channel, n.sent_at) for n in critical] == [
        (1, "sms", datetime(2026, 3, 4, 16, tzinfo=UTC)),
        (2, "call", datetime(2026, 3, 4, 16, 15, tzinfo=UTC)),
        (3, "sms", datetime(2026, 3, 4, 16, 30, tzinfo=UTC)),
    ]
    last = (await outbox(services))[-1]
    assert last.to_member_ids == [people.ben] and "Maya hasn't answered" in last.body


async def test_a_reply_stops_a_critical_escalation(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    clock.set(DAY_START)
    await services.tasks.create(people.actor(people.maya), title="Insulin", critical=True,
                                due_at=datetime(2026, 3, 4, 17, tzinfo=UTC))
    await run(scheduler, clock, datetime(2026, 3, 4, 15, 30, tzinfo=UTC),
              datetime(2026, 3, 4, 16, 5, tzinfo=UTC))
    await services.interactions.record(people.household_id, people.maya, "sms", "inbound",
                                       "OK", "Thanks!")
    await run(scheduler, clock, datetime(2026, 3, 4, 16, 5, tzinfo=UTC),
              datetime(2026, 3, 4, 17, tzinfo=UTC))
    assert [n.detail["step"] for n in await nudges(services) if n.kind == "critical"] == [1]


async def test_a_completed_task_gets_no_deadline_alert(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    clock.set(DAY_START)
    maya = people.actor(people.maya)
    task = await services.tasks.create(maya, title="Pay rent",
                                       due_at=datetime(2026, 3, 4, 20, tzinfo=UTC))
    await run(scheduler, clock, DAY_START, datetime(2026, 3, 4, 18, tzinfo=UTC),
              step=timedelta(minutes=15))
    await services.tasks.complete(maya, task.id)
    await run(scheduler, clock, datetime(2026, 3, 4, 18, tzinfo=UTC),
              datetime(2026, 3, 4, 21, tzinfo=UTC), step=timedelta(minutes=15))
    assert not [n for n in await nudges(services) if n.kind in ("deadline", "overdue_digest")]


async def test_what_changes_a_members_day_marks_them_for_planning(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    clock.set(DAY_START)

    async def fire_at(member_id: int) -> datetime | None:
        async with services.db.read() as s:
            return await s.scalar(select(MemberSchedule.next_fire_at)
                                  .where(MemberSchedule.member_id == member_id))

    early = lead(people.maya, scheduler.store.rules)  # planned that long before the moment
    await scheduler.tick()
    assert await fire_at(people.maya) == datetime(2026, 3, 4, 12, tzinfo=UTC) - early
    maya = people.actor(people.maya)
    await services.habits.create(maya, name="Walk", reminder_time="06:00")
    assert await fire_at(people.maya) == STALE
    await scheduler.tick()
    assert await fire_at(people.maya) == datetime(2026, 3, 4, 11, tzinfo=UTC) - early
    await services.members.update(maya, people.maya, {"preferences": {"morning_checkin": "05:30"}})
    assert await fire_at(people.maya) == STALE
    await scheduler.tick()
    assert await fire_at(people.maya) == datetime(2026, 3, 4, 10, 30, tzinfo=UTC) - early
    # A new task (a plain INSERT, no flush) marks its member as well: its deadline alert.
    await services.tasks.create(maya, title="Renew the passport",
                                due_at=datetime(2026, 3, 5, 15, tzinfo=UTC))
    assert await fire_at(people.maya) == STALE
    await scheduler.tick()
    assert await fire_at(people.maya) != STALE
    async with services.db.transaction() as s:
        h = await s.get(Household, people.household_id)
        assert h is not None
        h.timezone = "America/Chicago"
    for mid in (people.maya, people.ava, people.kim):
        assert await fire_at(mid) == STALE
    assert await fire_at(people.ben) == STALE  # own zone, but the same household row


async def test_nudges_older_than_35_days_are_pruned(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=8),
              step=timedelta(minutes=30))
    assert len(await nudges(services)) == 3
    assert await scheduler.prune(DAY_START + timedelta(days=30)) == 0  # kept 35 days
    assert await scheduler.prune(DAY_START + timedelta(days=36)) == 3
    assert await nudges(services) == []


async def test_members_added_behind_the_orms_back_get_a_schedule_row(
    services: Services, people: People, scheduler: Scheduler
) -> None:
    async with services.db.transaction() as s:
        await s.execute(delete(MemberSchedule).where(MemberSchedule.member_id == people.ben))
    assert await scheduler.store.ensure_rows() == 1
    assert await scheduler.store.ensure_rows() == 0
    assert await scheduler.store.due_count(DAY_START) == 4


async def test_moving_east_before_the_briefing_still_brings_it_once(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    start = datetime(2026, 3, 10, 4, tzinfo=UTC)
    await run(scheduler, clock, start, datetime(2026, 3, 10, 10, tzinfo=UTC),
              step=timedelta(minutes=10))
    await services.members.update(people.actor(people.maya), people.maya,
                                  {"timezone": "Europe/Berlin"})
    await run(scheduler, clock, datetime(2026, 3, 10, 10, tzinfo=UTC),
              datetime(2026, 3, 11, 12, tzinfo=UTC), step=timedelta(minutes=10))
    briefings = [(n.local_date.isoformat(), n.status, n.detail.get("reason"))
                 for n in await nudges(services)
                 if n.member_id == people.maya and n.kind == "morning_briefing"]
    assert briefings == [("2026-03-10", "sent", "timezone change"), ("2026-03-11", "sent", None)]


async def test_the_app_runs_the_scheduler_in_process_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    from luna.db.engine import Database

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()
    for enabled in (True, False):
        settings = load_settings(env="test", database_url=url, scheduler_enabled=enabled)
        app = create_app(settings, clock=FrozenClock(DAY_START))
        async with app.router.lifespan_context(app):
            loop = app.state.scheduler
            assert isinstance(loop, InProcessScheduler) is enabled
            if loop is not None:
                await asyncio.sleep(0.05)


async def test_one_worker_per_sqlite_file_runs_the_ticks_and_another_takes_over(
    tmp_path: Path,
) -> None:
    """`luna serve --workers 2`: both workers start a scheduler; only the lock's owner ticks,
    and when it stops, the other one becomes the owner at its next tick."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
    from luna.db.engine import Database

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()
    settings = load_settings(env="test", database_url=url,
                             scheduler=SchedulerSettings(tick_s=0.05))
    first = create_app(settings, clock=FrozenClock(DAY_START))
    second = create_app(settings, clock=FrozenClock(DAY_START))
    async with first.router.lifespan_context(first):
        await until(lambda: first.state.scheduler.owner.held)
        async with second.router.lifespan_context(second):
            await asyncio.sleep(0.3)  # six of its ticks
            assert first.state.scheduler.owner.held
            assert not second.state.scheduler.owner.held
            stopping = asyncio.create_task(_leave(first))
            await until(lambda: second.state.scheduler.owner.held)
            await stopping


async def until(condition: Any, timeout_s: float = 3.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def _leave(app: Any) -> None:
    """The first worker's scheduler stops (its process exits) while the second runs on."""
    await app.state.scheduler.stop()


class FakeWriter:
    def __init__(self) -> None:
        self.calls = 0

    async def write(self, member: Any, facts: str) -> tuple[str, float]:
        self.calls += 1
        return f"LLM briefing for {member.name}: {facts[:40]}", 0.3


async def test_llm_briefings_stop_at_the_members_monthly_cap(
    services: Services, people: People, clock: FrozenClock
) -> None:
    settings = load_settings(env="test", database_url=services.db.url,
                             scheduler=SchedulerSettings(llm_monthly_cap_usd=0.5))
    writer = FakeWriter()
    scheduler = Scheduler(services, settings, writer=writer)
    await services.members.update(people.actor(people.maya), people.maya, {
        "preferences": {"evening_checkin": None}})
    for day in range(3):
        start = DAY_START + timedelta(days=day, hours=6, minutes=50)
        await run(scheduler, clock, start, start + timedelta(minutes=20),
                  step=timedelta(minutes=5))
    texts = [m.body for m in await outbox(services) if m.to_member_ids == [people.maya]]
    assert [t.startswith("LLM briefing for Maya") for t in texts] == [True, True, False]
    assert texts[2].startswith("Good morning, Maya!")
    async with services.db.read() as s:
        spent = await s.scalar(select(func.sum(UsageRecord.cost_usd)).where(
            UsageRecord.member_id == people.maya, UsageRecord.kind == "briefing_llm"))
    assert spent == pytest.approx(0.6)


async def test_the_llm_writer_prices_what_the_model_used() -> None:
    from luna.brain.llm import ModelReply
    from luna.brain.types import Usage
    from luna.config import Prices
    from luna.scheduler.llm_writer import LlmBriefingWriter

    class Model:
        async def complete(self, messages: Any, tools: Any) -> ModelReply:
            assert "Maya" in messages[0]["content"] and tools == []
            return ModelReply("Morning Maya! Dentist at 2.", (),
                              Usage(input_tokens=1000, output_tokens=100))

    member = type("M", (), {"name": "Maya"})()
    text, cost = await LlmBriefingWriter(Model(), Prices()).write(member, "Dentist at 2 PM")
    assert text == "Morning Maya! Dentist at 2."
    assert cost == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1_000_000)


def test_quiet_hours_default_is_half_past_nine_to_seven() -> None:
    assert Quiet().start == time(21, 30) and Quiet().end == time(7)


async def test_the_schedule_rows_are_vacuumed_once_enough_of_them_moved(
    services: Services, people: People, scheduler: Scheduler, clock: FrozenClock
) -> None:
    await run(scheduler, clock, DAY_START, DAY_START + timedelta(hours=8),
              step=timedelta(minutes=30))
    store = scheduler.store
    assert store.rescheduled > 0
    assert not await store.maintain(every=store.rescheduled + 1)  # not enough moved yet
    vacuumed = await store.maintain(every=1)
    # PostgreSQL only: SQLite rewrites rows in place and leaves nothing to vacuum.
    assert vacuumed is (services.db.dialect == "postgresql")
    assert store.rescheduled == (0 if vacuumed else store.rescheduled)
    await scheduler.housekeeping(DAY_START + timedelta(hours=8))  # prunes, vacuums if due
    assert len(await nudges(services)) == 3


def test_the_postgresql_pool_follows_the_settings() -> None:
    from luna.db.engine import Database

    settings = load_settings(env="test", database_url="postgresql://u@127.0.0.1:1/x",
                             db_pool_size=3, db_max_overflow=2, db_pool_timeout_s=4)
    db = Database.from_settings(settings)
    pool: Any = db.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 4)
    fields = Settings.model_fields
    # The defaults: the app and three workers stay well inside PostgreSQL's 100 connections.
    assert fields["db_pool_size"].default + fields["db_max_overflow"].default <= 10
