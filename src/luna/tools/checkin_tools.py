"""The daily check-in tool: sleep, mood, energy and exercise, merged into the day's record."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from luna.services.checkins import MAX_EXERCISE_MINUTES, CheckinOut
from luna.tools.catalog import registry
from luna.tools.context import ToolContext
from luna.tools.habit_tools import member_day

Score = Annotated[int, Field(ge=1, le=10)]
Minutes = Annotated[int, Field(ge=0, le=MAX_EXERCISE_MINUTES)]


@registry.tool(writes=True)
async def update_daily_metrics(
    ctx: ToolContext,
    sleep_quality: Score | None = None,
    mood: Score | None = None,
    energy: Score | None = None,
    exercise_minutes: Minutes | None = None,
    notes: str | None = None,
    day: str | None = None,
) -> CheckinOut:
    """Record how the member's day is going; only the values given change, the rest is kept.

    Args:
        sleep_quality: How well they slept last night, 1 (terrible) to 10 (great).
        mood: Their mood, 1 (very low) to 10 (excellent).
        energy: Their energy, 1 (exhausted) to 10 (full of energy).
        exercise_minutes: Minutes of exercise today.
        notes: Anything else about the day worth remembering; added to earlier notes.
        day: Which day, if not today: "yesterday" or an ISO date.
    """
    return await ctx.services.checkins.upsert(
        ctx.actor, ctx.member.id, member_day(ctx, day), sleep_quality=sleep_quality, mood=mood,
        energy=energy, exercise_minutes=exercise_minutes, notes=notes,
    )
