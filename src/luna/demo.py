"""The demo family: a household with a week of history, so a new user sees Luna at work.

History is made by replaying the past week through the real services on a clock set to each
day, so streaks, points and check-ins are what the rules compute, not numbers typed in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from luna.clock import Clock
from luna.services.access import ADMIN, Actor
from luna.services.chores import ChoreOut, ScheduleIn
from luna.services.container import Services
from luna.services.habits import HabitOut
from luna.testing.clock import FrozenClock

TZ = "America/New_York"


@dataclass(frozen=True, slots=True)
class DemoResult:
    household_id: int
    admin_member_id: int
    token: str


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day.date(), time(hour, minute), tzinfo=ZoneInfo(TZ))


async def load_demo(services: Services, *, force: bool = False) -> DemoResult | None:
    """Create the Rivera family; None when the database already has a household (unless force)."""
    if not force and await services.members.list_households(ADMIN):
        return None
    created = await services.members.create_household(
        ADMIN, name="The Rivera family", timezone=TZ, admin_name="Maya",
        admin_phone="+15550100001",
    )
    hid = created.id
    members = services.members
    maya = created.admin_member_id
    ben = (await members.add_member(ADMIN, household_id=hid, name="Ben", phone="+15550100002",
                                    nicknames=["Benny"])).id
    ava = (await members.add_member(ADMIN, household_id=hid, name="Ava", role="child",
                                    phone="+15550100003")).id
    noah = (await members.add_member(ADMIN, household_id=hid, name="Noah", role="child")).id
    joe = (await members.add_member(ADMIN, household_id=hid, name="Joe", nicknames=["Grandpa"],
                                    phone="+15550100005", preferences={"prefer_voice": True})).id
    as_maya = Actor(household_id=hid, member_id=maya, role="adult")
    await members.update(as_maya, maya, {
        "onboarded": True,
        "ai_context": {"personality": "Organised, funny, always running late",
                       "learning_data": {"interests": ["pottery", "running"],
                                         "challenges": ["evenings get chaotic"],
                                         "motivations": ["more time with the kids"]}},
    })

    now = services.clock.now()
    local_now = now.astimezone(ZoneInfo(TZ))
    start = local_now - timedelta(days=7)

    habits = {
        "Journaling": await services.habits.create(as_maya, name="Journaling",
                                                   category="personal", reminder_time="21:00"),
        "Running": await services.habits.create(as_maya, name="Running", unit="miles",
                                                target=2, frequency="times_per_week",
                                                times_per_week=3),
    }
    reading = await services.habits.create(as_maya, member_id=ava, name="Reading",
                                           category="learning", unit="minutes", target=20)
    # Chores are created as if a week ago, so their schedules have a week to run.
    week_ago = _services_at(services, start).chores
    chores = {
        "trash": await week_ago.create(
            as_maya, title="Take out the trash", points=2, assignee_id=ben,
            schedule=ScheduleIn(kind="weekly", weekdays=["tue", "fri"],
                                date=start.date()), due_time="19:00"),
        "dishes": await week_ago.create(
            as_maya, title="Do the dishes", points=3, assignment_mode="rotation",
            rotation_member_ids=[ava, noah, ben],
            schedule=ScheduleIn(kind="every_n_days", interval_days=1, date=start.date()),
            due_time="20:00"),
        "cat": await week_ago.create(
            as_maya, title="Feed the cat", points=1, assignment_mode="rotation",
            rotation_member_ids=[noah, ava],
            schedule=ScheduleIn(kind="every_n_days", interval_days=1, date=start.date()),
            due_time="08:00"),
        "fridge": await week_ago.create(
            as_maya, title="Clean the fridge", points=5, assignee_id=maya,
            schedule=ScheduleIn(kind="every_n_days", interval_days=14, from_completion=True,
                                date=start.date())),
    }

    for offset in range(7, 0, -1):
        day = local_now - timedelta(days=offset)
        await _replay_day(services, day, offset, hid, maya, ava, habits, reading.id, chores)

    await services.chores.create(
        as_maya, title="Vacuum the living room", points=4, assignment_mode="fairest",
        schedule=ScheduleIn(kind="weekly", weekdays=["sat"]))
    for title, when, prio, who in [
        ("Renew library card", now + timedelta(days=2), "medium", maya),
        ("Call the dentist", now + timedelta(days=1), "high", maya),
        ("Book summer camp for Ava", now + timedelta(days=5), "urgent", maya),
        ("Pay the water bill", now - timedelta(hours=20), "high", maya),
        ("Fix the bike", None, "low", ben),
        ("Science project", now + timedelta(days=3), "high", ava),
        ("Read chapter 4", now + timedelta(days=1), "medium", noah),
    ]:
        await services.tasks.create(as_maya, title=title, member_id=who, due_at=when,
                                    priority=prio,  # type: ignore[arg-type]
                                    source_channel="demo")
    await services.goals.create(as_maya, title="Run 100 miles this spring", category="health",
                                timeframe="quarterly", unit="miles", target_value=100,
                                current_value=14)
    await services.goals.create(as_maya, member_id=ava, title="Read 12 books this year",
                                category="learning", timeframe="yearly", unit="books",
                                target_value=12, current_value=2)
    await services.calendar.add(as_maya, "Swim lessons", _at(local_now + timedelta(days=1), 17),
                                _at(local_now + timedelta(days=1), 18), member_ids=[ava, noah])
    await services.calendar.add(as_maya, "Dinner at Grandpa's",
                                _at(local_now + timedelta(days=3), 18, 30),
                                _at(local_now + timedelta(days=3), 20, 30),
                                location="Joe's house")
    await services.calendar.add(as_maya, "Parent-teacher meeting",
                                _at(local_now + timedelta(days=4), 15, 30),
                                _at(local_now + timedelta(days=4), 16), member_ids=[maya, ben])
    await services.messages.send_family_message(as_maya, [joe], "Dinner's at 7 on Sunday!")
    await services.interactions.record(
        household_id=hid, member_id=maya, channel="voice", direction="outbound",
        user_message=None, assistant_response=None,
        transcript=[
            {"role": "assistant", "text": "Hi Maya, it's Luna. How did today go?"},
            {"role": "user", "text": "Pretty good, I went for a run and finished the report."},
            {"role": "assistant", "text": "That's a great day! I logged your run. "
                                          "What are your top three for tomorrow?"},
        ],
        metadata={"purpose": "evening_reflection", "duration_s": 94, "demo": True},
    )
    await services.interactions.record(
        household_id=hid, member_id=ben, channel="sms", direction="inbound",
        user_message="took out the trash", assistant_response="Nice work, Ben! +2 points.",
        metadata={"handled_by": "local", "demo": True},
    )
    return DemoResult(hid, maya, created.token)


async def _replay_day(
    base: Services, day: datetime, offset: int, hid: int, maya: int, ava: int,
    habits: dict[str, HabitOut], reading_id: int, chores: dict[str, ChoreOut],
) -> None:
    """One past day of family life, on a clock set to that evening."""
    services = _services_at(base, day.replace(hour=20, minute=30))
    as_maya = Actor(household_id=hid, member_id=maya, role="adult")
    journaling = habits["Journaling"]
    running = habits["Running"]
    if offset != 4:  # one missed day, so the strength and streak have a story to tell
        await services.habits.log(as_maya, journaling.id)
    if offset in (6, 4, 2):
        await services.habits.log(as_maya, running.id, value=2.5)
    await services.habits.log(as_maya, reading_id, value=25 if offset % 3 else 15)
    await services.checkins.upsert(
        as_maya, maya, sleep_quality=5 + offset % 4, mood=6 + offset % 3, energy=4 + offset % 5,
        exercise_minutes=30 if offset in (6, 4, 2) else 0,
    )
    for key in ("dishes", "cat", "trash"):
        chore = await services.chores.get(as_maya, chores[key].id)
        if chore.next_due and chore.next_due <= day.date():
            await services.chores.complete(as_maya, chore.id, chore.assignee_id)
    if offset == 5:
        await services.chores.complete(as_maya, chores["fridge"].id, maya)


def _services_at(base: Services, at: datetime) -> Services:
    clock: Clock = FrozenClock(at)
    return Services.build(base.db, clock)
