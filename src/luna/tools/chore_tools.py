"""Chore tools: the family's shared chores, who is up, what is overdue, and handing them on."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from luna.domain.habits import WEEKDAY_NAMES
from luna.domain.localday import local_now, parse_hhmm
from luna.services.chores import ChoreCompletionOut, ChoreOut, Mode, ScheduleIn, Weekday
from luna.services.when import parse_day, parse_when
from luna.tools.catalog import registry
from luna.tools.context import ToolContext
from luna.tools.people import resolve_member


async def _household_tz(ctx: ToolContext) -> str:
    return await ctx.services.calendar.household_tz(ctx.actor)


async def _chore_id(ctx: ToolContext, chore: str) -> int:
    if chore.strip().isdigit():
        return int(chore)
    return await ctx.services.chore_backend.find_id(ctx.actor, chore)


def _time_of_day(text: str, tz: str, ctx: ToolContext) -> str:
    try:
        return parse_hhmm(text).strftime("%H:%M")
    except ValueError:
        # Spoken times ("6pm", "half past six") go through the date parser.
        return parse_when(f"today at {text}", tz, ctx.now()).strftime("%H:%M")


@registry.tool(writes=True)
async def create_chore(
    ctx: ToolContext,
    title: str,
    assignee: str | None = None,
    schedule: Literal["once", "weekly", "every_n_days"] = "weekly",
    weekdays: list[Weekday] | None = None,
    every_days: int | None = None,
    from_completion: bool = False,
    start: str | None = None,
    due_time: str | None = None,
    points: int = 1,
    rotation: list[str] | None = None,
) -> ChoreOut:
    """Add a household chore, for one member, a rotation of members, or nobody yet.

    Args:
        title: The chore, short ("Take out the trash").
        assignee: Who does it (a name, nickname or "me"); leave empty for a shared chore, or
            with a rotation, for who goes first.
        schedule: "once" for a one-off, "weekly" on given weekdays, "every_n_days" for a fixed
            interval.
        weekdays: Weekly chores: the days it is due; defaults to the weekday of the start day.
        every_days: every_n_days chores: the number of days between occurrences.
        from_completion: every_n_days chores: count the interval from when it was last done
            ("clean the fridge every 30 days") rather than from the calendar.
        start: The day of a one-off chore, or the first day of a recurring one (ISO date or
            words like "saturday"); defaults to today.
        due_time: Time of day it should be done by ("18:30" or "6:30pm").
        points: Reward points for doing it.
        rotation: Member names in turn order, for a chore that rotates.
    """
    tz = await _household_tz(ctx)
    start_day = parse_day(start, tz, ctx.now()) if start else local_now(ctx.now(), tz).date()
    days = list(weekdays or [])
    if schedule == "weekly" and not days:
        days = [WEEKDAY_NAMES[start_day.weekday()]]  # type: ignore[list-item]
    order = [(await resolve_member(ctx, n)).id for n in rotation or []]
    who = (await resolve_member(ctx, assignee)).id if assignee else None
    mode: Mode = "rotation" if order else "fixed"
    return await ctx.services.chore_backend.create(
        ctx.actor, title=title,
        schedule=ScheduleIn(
            kind=schedule, date=start_day, weekdays=days,
            interval_days=every_days if schedule == "every_n_days" else None,
            from_completion=from_completion,
        ),
        assignee_id=who, assignment_mode=mode, rotation_member_ids=order,
        due_time=_time_of_day(due_time, tz, ctx) if due_time else None, points=points,
    )


@registry.tool(writes=False)
async def get_chores(
    ctx: ToolContext, member: str | None = None, day: str | None = None
) -> dict[str, Any]:
    """List the household's chores, or one member's, optionally only those due on a day.

    Args:
        member: Whose chores (a name, nickname or "me"); leave empty for the whole family.
        day: Only chores due that day ("today", "saturday", "2026-03-07"); today includes
            anything overdue.
    """
    tz = await _household_tz(ctx)
    on: date | None = parse_day(day, tz, ctx.now()) if day else None
    who = (await resolve_member(ctx, member)).id if member else None
    chores = await ctx.services.chore_backend.list(ctx.actor, day=on, member_id=who)
    return {"count": len(chores), "chores": chores}


@registry.tool(writes=False)
async def get_overdue_chores(ctx: ToolContext, member: str | None = None) -> dict[str, Any]:
    """List chores whose due day (and time) has passed without being done.

    Args:
        member: Whose chores (a name, nickname or "me"); leave empty for the whole family.
    """
    who = (await resolve_member(ctx, member)).id if member else None
    chores = await ctx.services.chore_backend.overdue(ctx.actor, member_id=who)
    return {"count": len(chores), "chores": chores}


@registry.tool(writes=True)
async def complete_chore(
    ctx: ToolContext, chore: str, completed_by: str | None = None
) -> ChoreCompletionOut:
    """Mark a chore done: awards its points and moves it to its next day and next person.

    Args:
        chore: The chore's title as said (fuzzy-matched), or its id.
        completed_by: Who did it (a name or nickname); defaults to the speaker.
    """
    who = (await resolve_member(ctx, completed_by)) if completed_by else ctx.member
    chore_id = await _chore_id(ctx, chore)
    return await ctx.services.chore_backend.complete(ctx.actor, chore_id, who.id)


@registry.tool(writes=True)
async def reschedule_chore(ctx: ToolContext, chore: str, day: str) -> ChoreOut:
    """Move a chore's next occurrence to another day (today or later).

    Args:
        chore: The chore's title as said (fuzzy-matched), or its id.
        day: The new day ("tomorrow", "sunday", "2026-03-08").
    """
    on = parse_day(day, await _household_tz(ctx), ctx.now())
    chore_id = await _chore_id(ctx, chore)
    return await ctx.services.chore_backend.reschedule(ctx.actor, chore_id, on)


@registry.tool(writes=True)
async def delegate_chore(ctx: ToolContext, chore: str, to: str) -> ChoreOut:
    """Hand a chore's current turn to another household member.

    Args:
        chore: The chore's title as said (fuzzy-matched), or its id.
        to: Who takes it over (a name or nickname).
    """
    target = await resolve_member(ctx, to)
    chore_id = await _chore_id(ctx, chore)
    return await ctx.services.chore_backend.delegate(ctx.actor, chore_id, target.id)


@registry.tool(writes=False)
async def suggest_chores(ctx: ToolContext) -> dict[str, Any]:
    """Suggest who should take each unassigned or shared chore, from recent effort and load."""
    suggestions = await ctx.services.chore_backend.suggest(ctx.actor)
    return {"count": len(suggestions), "suggestions": suggestions}
