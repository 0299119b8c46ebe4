"""Goal tools: set a goal, move it forward, and list the member's goals."""

from __future__ import annotations

from typing import Any, Literal

from luna.errors import InvalidInput
from luna.services.goals import GoalCategory, GoalOut, GoalTimeframe
from luna.services.when import parse_day
from luna.tools.catalog import registry
from luna.tools.context import ToolContext


@registry.tool(writes=True)
async def create_goal(
    ctx: ToolContext,
    title: str,
    timeframe: GoalTimeframe = "monthly",
    category: GoalCategory = "personal",
    target_value: float | None = None,
    unit: str | None = None,
    target_date: str | None = None,
    description: str | None = None,
) -> GoalOut:
    """Set a new goal for the member, optionally measurable ("run 50 km", "read 12 books").

    Args:
        title: The goal in a few words ("Run 50 km").
        timeframe: The horizon; the target date defaults to the end of this period.
        category: What area of life it belongs to.
        target_value: The number to reach, for measurable goals (50 for "run 50 km").
        unit: What the number counts ("km", "books", "kg").
        target_date: When it should be reached: ISO date or words ("end of june"); not in the past.
        description: Why it matters, or any detail worth keeping.
    """
    when = parse_day(target_date, ctx.tz, ctx.now()) if target_date else None
    return await ctx.services.goals.create(
        ctx.actor, title=title, member_id=ctx.member.id, description=description,
        category=category, timeframe=timeframe, unit=unit, target_value=target_value,
        target_date=when,
    )


@registry.tool(writes=True)
async def update_goal_progress(
    ctx: ToolContext,
    goal: str,
    value: float | None = None,
    delta: float | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record progress on one of the member's measurable goals; reaching the target completes it.

    Args:
        goal: The goal's title as the member said it (fuzzy-matched), or its id.
        value: The new total ("I'm at 30 km now"). Give this or delta.
        delta: How much to add ("ran 5 km more"); negative to subtract. Give this or value.
        note: A short remark to keep with the goal.
    """
    if value is None and delta is None:
        raise InvalidInput("say the new total (value) or how much changed (delta)")
    goals = ctx.services.goals
    before = (await goals.get(ctx.actor, int(goal)) if goal.strip().isdigit()
              else await goals.find(ctx.actor, ctx.member.id, goal))
    after = await goals.update_progress(ctx.actor, before.id, value=value, delta=delta, note=note)
    just_completed = before.status != "completed" and after.status == "completed"
    return {"goal": after, "just_completed": just_completed}


@registry.tool(writes=False)
async def get_goals(
    ctx: ToolContext, status: Literal["active", "completed", "all"] = "active"
) -> dict[str, Any]:
    """List the member's goals with their progress (0 to 100).

    Args:
        status: Which goals: active ones, completed ones, or all.
    """
    found = await ctx.services.goals.list(ctx.actor, member_id=ctx.member.id, status=status)
    return {"count": len(found), "goals": found}
