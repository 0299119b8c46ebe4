"""Habit tools: log a habit by what the member calls it, and summarise how their habits go."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from luna.domain.localday import local_date, parse_hhmm
from luna.services.habits import HabitLogResult, HabitSummary, Period
from luna.services.matching import best_match
from luna.services.when import parse_day
from luna.tools.catalog import registry
from luna.tools.context import ToolContext


def member_day(ctx: ToolContext, text: str | None) -> date | None:
    """A local day from words; "today" and "yesterday" follow the member's own day boundary.

    At 01:30 the member's day is still the previous date, so "yesterday" said then means the
    day before that, exactly as "today" means the evening that has not ended yet.
    """
    if text is None or not text.strip():
        return None
    today = local_date(ctx.now(), ctx.tz, parse_hhmm(ctx.member.preferences.day_start))
    word = text.strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    return parse_day(text, ctx.tz, ctx.now())


@registry.tool(writes=True)
async def log_habit(
    ctx: ToolContext,
    habit: str,
    value: float | None = None,
    notes: str | None = None,
    day: str | None = None,
    skipped: bool = False,
) -> HabitLogResult:
    """Record that the member did a habit (or deliberately skipped it); a new habit is created
    when none matches.

    Args:
        habit: The habit as the member said it ("meditate", "drink water"), fuzzy-matched.
        value: How much, for measured habits (glasses, minutes, pages); omit for a simple yes.
        notes: Anything worth keeping about this time.
        day: Which day it was done, if not today: "yesterday" or an ISO date (up to 7 days back).
        skipped: True when the member chose to skip today (rest day, sick); keeps the streak.
    """
    return await ctx.services.habits.log_by_name(
        ctx.actor, ctx.member.id, habit, value=value, notes=notes, day=member_day(ctx, day),
        skipped=skipped,
    )


@registry.tool(writes=False)
async def get_habit_summary(
    ctx: ToolContext, period: Literal["week", "month", "year"] = "week", habit: str | None = None
) -> HabitSummary:
    """Summarise the member's habits: streaks, habit strength (0 to 1), completion rate and
    totals over the last week, month or year.

    Args:
        period: How far back to look: the last 7, 30 or 365 days.
        habit: Only this habit (fuzzy-matched); omit for all of them.
    """
    chosen: Period = period
    summary = await ctx.services.habits.summary(ctx.actor, ctx.member.id, chosen)
    if habit is not None and habit.strip():
        found = best_match(habit, summary.habits, lambda h: h.name, what="habit")
        summary.habits = [found]
    return summary
