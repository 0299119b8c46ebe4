"""undo_last_action reverses each kind of write, as recorded around the tool calls of a turn."""

from __future__ import annotations

from typing import Any

import httpx

from luna.brain.recording import TurnRegistry, record_tool_actions
from luna.brain.types import Action
from luna.services.access import ADMIN, Actor
from luna.services.container import Services
from luna.tools import catalog
from luna.tools.context import ToolContext
from luna.tools.registry import ToolResult
from tests.conftest import Family


async def context(services: Services, member_id: int) -> ToolContext:
    return ToolContext(services, await services.members.get(ADMIN, member_id), "sms")


class Turn:
    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.tools = TurnRegistry(catalog.load())

    async def __call__(self, name: str, **arguments: Any) -> Any:
        res = await self.tools.invoke(name, self.ctx, arguments)
        assert res.ok, res
        return res.data

    async def undo(self) -> ToolResult:
        return await self.tools.invoke("undo_last_action", self.ctx, {})

    @property
    def actor(self) -> Actor:
        return self.ctx.actor


async def test_undo_reopens_a_completed_task_and_restores_a_moved_due_time(
    services: Services, family: Family
) -> None:
    run = Turn(await context(services, family.adult_id))
    task = await run("create_task", title="Dentist", due="2026-03-06T09:00")
    await run("reschedule_task", task="dentist", due="2026-03-10T15:00")
    await run("complete_task", task="dentist")
    done = await run.undo()
    assert done.ok and done.data["message"] == "Undone: “Dentist” is open again."
    back = await services.tasks.get(run.actor, task["id"])
    assert back.status == "pending" and back.completed_at is None
    moved_back = await run.undo()
    assert moved_back.ok
    assert (await services.tasks.get(run.actor, task["id"])).due_at.isoformat() == (  # type: ignore[union-attr]
        "2026-03-06T09:00:00-05:00")
    assert (await run.undo()).ok
    assert await services.tasks.list(run.actor, member_id=family.adult_id) == []
    nothing = await run.undo()
    assert (nothing.ok, nothing.error) == (False, "not_found")


async def test_undo_deletes_a_habit_log_and_a_habit_the_log_created(
    services: Services, family: Family
) -> None:
    run = Turn(await context(services, family.adult_id))
    await run("log_habit", habit="stretch")
    await run("log_habit", habit="stretch", day="yesterday")
    assert (await run.undo()).ok
    [habit] = await services.habits.list(run.actor, member_id=family.adult_id)
    assert len(await services.habits.list_logs(run.actor, habit.id)) == 1
    assert (await run.undo()).ok
    assert await services.habits.list(run.actor, member_id=family.adult_id) == []


async def test_undo_restores_the_days_check_in_and_removes_a_new_one(
    services: Services, family: Family
) -> None:
    run = Turn(await context(services, family.adult_id))
    await run("update_daily_metrics", mood=4)
    await run("update_daily_metrics", mood=8, energy=7, notes="great walk")
    assert (await run.undo()).ok
    today = await services.checkins.today(run.actor, family.adult_id)
    assert today is not None and (today.mood, today.energy, today.notes) == (4, None, None)
    assert (await run.undo()).ok
    assert await services.checkins.today(run.actor, family.adult_id) is None


async def test_undo_removes_a_goal_and_restores_its_progress(
    services: Services, family: Family
) -> None:
    run = Turn(await context(services, family.adult_id))
    goal = await run("create_goal", title="Run 50 km", target_value=50, unit="km")
    await run("update_goal_progress", goal="run", value=50, note="did it")
    assert (await run.undo()).ok
    g = await services.goals.get(run.actor, goal["id"])
    assert (g.current_value, g.status, g.description) == (0, "active", None)
    assert (await run.undo()).ok
    assert await services.goals.list(run.actor, member_id=family.adult_id) == []


async def test_undo_takes_back_chores_and_events(services: Services, family: Family) -> None:
    run = Turn(await context(services, family.adult_id))
    chore = await run("create_chore", title="Trash", assignee="me", schedule="once")
    completion = await run("complete_chore", chore="trash")
    assert (await run.undo()).ok
    detail = await services.chores.get(run.actor, chore["id"])
    assert [c.undone for c in detail.completions] == [True]
    assert detail.next_due is not None and completion["next_due"] is None
    assert (await run.undo()).ok
    assert (await services.chores.get(run.actor, chore["id"])).active is False
    event = await run("add_event", title="Recital", start="2026-03-06T18:00")
    assert (await run.undo()).ok
    events = await services.calendar.list(run.actor, *_march())
    assert event["id"] not in [e.id for e in events]


async def test_a_sent_message_cannot_be_unsent_and_memory_writes_are_passed_over(
    services: Services, family: Family
) -> None:
    run = Turn(await context(services, family.adult_id))
    await run("create_task", title="Pack lunch")
    await run("update_user_profile", interests=["running"])
    assert (await run.undo()).ok  # the profile note is skipped: the task goes
    assert await services.tasks.list(run.actor, member_id=family.adult_id) == []
    await run("send_family_message", to=["Ben"], body="Dinner at 7")
    refused = await run.undo()
    assert (refused.ok, refused.error) == (False, "conflict")
    assert "can't be unsent" in (refused.detail or "")


async def test_undo_is_per_speaker(services: Services, family: Family) -> None:
    parent = Turn(await context(services, family.adult_id))
    child = Turn(await context(services, family.child_id))
    await parent("create_task", title="Parent task")
    nothing = await child.undo()
    assert (nothing.ok, nothing.error) == (False, "not_found")
    assert (await parent.undo()).ok


async def test_actions_recorded_after_the_fact_can_be_undone(
    services: Services, family: Family
) -> None:
    ctx = await context(services, family.adult_id)
    res = await catalog.load().invoke("create_task", ctx, {"title": "From a call"})
    action = Action("create_task", {"title": "From a call"}, ok=True, result=res.data)
    read = Action("get_tasks", {}, ok=True, result={})
    await record_tool_actions(services, ctx, [action, read])
    [logged] = await services.actions.recent(ctx.actor)
    assert logged.tool == "create_task" and logged.target_id == res.data["id"]
    assert (await Turn(ctx).undo()).ok


async def test_the_undo_tool_over_http_with_nothing_to_undo(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tools/undo_last_action", json={"arguments": {}},
                          headers=family.headers())
    assert r.status_code == 200
    assert r.json()["ok"] is False and r.json()["error"] == "not_found"


async def test_a_write_through_the_tools_api_can_be_undone_there(
    client: httpx.AsyncClient, family: Family
) -> None:
    made = await client.post("/api/tools/create_task", json={"arguments": {"title": "Mop"}},
                             headers=family.headers())
    assert made.json()["ok"] is True
    r = await client.post("/api/tools/undo_last_action", json={"arguments": {}},
                          headers=family.headers())
    assert r.json()["ok"] is True, r.json()
    assert r.json()["result"]["message"] == "Undone: I removed the task “Mop”."
    assert (await client.get("/api/tasks", headers=family.headers())).json() == []


def _march() -> tuple[Any, Any]:
    from datetime import UTC, datetime

    return datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
