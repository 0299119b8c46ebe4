"""The daily briefing and next-action tools over real services, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from luna.services.access import Actor
from luna.services.chores import ScheduleIn
from luna.services.container import Services
from luna.services.tasks import Priority
from luna.testing.clock import FrozenClock
from tests.conftest import Family


async def tool(client: httpx.AsyncClient, family: Family, name: str, who: str = "adult",
               **arguments: object) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["ok"] is True, body
    result: dict[str, Any] = body["result"]
    return result


def adult(family: Family) -> Actor:
    return Actor(household_id=family.household_id, member_id=family.adult_id, role="adult")


async def task(services: Services, family: Family, title: str, due: dt.datetime | None,
               priority: Priority = "medium") -> int:
    out = await services.tasks.create(adult(family), title=title, due_at=due, priority=priority)
    return out.id


async def test_briefing_lists_tasks_events_chores_habits_goals_and_text(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    me, now = adult(family), clock.now()
    await task(services, family, "Pay rent", now + dt.timedelta(hours=3))
    await task(services, family, "File taxes", now - dt.timedelta(days=1))
    await task(services, family, "Next week", now + dt.timedelta(days=7))
    await services.calendar.add(me, "Dentist", now + dt.timedelta(hours=5),
                                member_ids=[family.adult_id])
    await services.chores.create(me, title="Take out trash", assignee_id=family.adult_id,
                                 schedule=ScheduleIn(kind="once", date=dt.date(2026, 3, 4)))
    habit = await services.habits.create(me, name="Meditate")
    await services.habits.create(me, name="Stretch")
    await services.habits.log(me, habit.id)
    await services.goals.create(me, title="Read 12 books", target_value=12, current_value=3)
    await services.checkins.upsert(me, family.adult_id, dt.date(2026, 3, 3), energy=3)

    b = await tool(client, family, "get_daily_briefing")
    assert b["day"] == "2026-03-04"
    assert [t["title"] for t in b["tasks"]] == ["File taxes", "Pay rent"]  # overdue first
    assert [e["title"] for e in b["events"]] == ["Dentist"]
    assert [c["title"] for c in b["chores"]] == ["Take out trash"]
    assert [h["name"] for h in b["habits_due"]] == ["Stretch"]  # meditate is done today
    assert b["goals"][0]["title"] == "Read 12 books"
    assert b["yesterday_checkin"]["energy"] == 3
    text = b["text"]
    assert text.startswith("Good morning, Maya!")
    for phrase in ("Dentist at 3:30 PM", "File taxes (overdue)", "Take out trash", "Stretch",
                   "Read 12 books at 25%", "energy 3/10"):
        assert phrase in text, text


async def test_briefing_for_another_day_and_an_empty_day(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    await task(services, family, "Pay rent", clock.now() + dt.timedelta(days=1))
    await task(services, family, "File taxes", clock.now() - dt.timedelta(days=1))
    b = await tool(client, family, "get_daily_briefing", day="tomorrow")
    assert b["day"] == "2026-03-05"
    assert [t["title"] for t in b["tasks"]] == ["Pay rent"]
    assert b["text"].startswith("Hi Maya! Here's how Thursday, March 5")
    b = await tool(client, family, "get_daily_briefing", who="child")
    assert b["tasks"] == [] and "clear day" in b["text"]


async def test_suggest_next_action_picks_an_overdue_urgent_task_first(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    me, now = adult(family), clock.now()
    await task(services, family, "Soon", now + dt.timedelta(hours=1))
    urgent = await task(services, family, "Renew passport", now - dt.timedelta(days=2), "urgent")
    await services.chores.create(me, title="Dishes", assignee_id=family.adult_id,
                                 schedule=ScheduleIn(kind="once", date=dt.date(2026, 3, 4)))
    await services.habits.create(me, name="Walk")
    res = await tool(client, family, "suggest_next_action")
    assert res["kind"] == "task" and res["id"] == urgent
    assert "overdue" in res["reason"]


async def test_suggest_next_action_falls_back_chore_then_habit_then_task(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    me, now = adult(family), clock.now()
    await task(services, family, "Soon", now + dt.timedelta(hours=1))
    walk = await services.habits.create(me, name="Walk")
    chore = await services.chores.create(
        me, title="Dishes", assignee_id=family.adult_id,
        schedule=ScheduleIn(kind="once", date=dt.date(2026, 3, 4)),
    )
    res = await tool(client, family, "suggest_next_action")
    assert (res["kind"], res["id"]) == ("chore", chore.id)
    await services.chores.complete(me, chore.id)
    res = await tool(client, family, "suggest_next_action")
    assert (res["kind"], res["id"]) == ("habit", walk.id)
    await services.habits.log(me, walk.id)
    res = await tool(client, family, "suggest_next_action")
    assert (res["kind"], res["title"]) == ("task", "Soon")


async def test_low_energy_prefers_a_small_thing_over_a_big_task(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    me, now = adult(family), clock.now()
    await task(services, family, "Quarterly report", now - dt.timedelta(hours=2), "high")
    walk = await services.habits.create(me, name="Walk")
    await services.checkins.upsert(me, family.adult_id, energy=2)
    res = await tool(client, family, "suggest_next_action")
    assert (res["kind"], res["id"]) == ("habit", walk.id)
    assert "energy is low" in res["reason"]


async def test_nothing_to_do_is_a_none_suggestion(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "suggest_next_action", who="child")
    assert res["kind"] == "none" and res["id"] is None
