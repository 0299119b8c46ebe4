"""Planning tools: the daily briefing and "what should I do next?"."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from luna.domain.localday import combine_local
from luna.services.calendar import EventOut
from luna.services.checkins import CheckinOut
from luna.services.goals import GoalOut
from luna.services.habits import HabitOut
from luna.services.tasks import PRIORITY_RANK, TaskOut
from luna.services.when import parse_day
from luna.tools.calendar_tools import chores_due
from luna.tools.catalog import registry
from luna.tools.context import ToolContext

LOW_ENERGY = 3  # on the check-in's 1-10 scale
MAX_LISTED = 3  # the spoken summary names this many of each kind and counts the rest


class Briefing(BaseModel):
    day: date
    tasks: list[TaskOut]
    chores: list[dict[str, Any]]
    events: list[EventOut]
    habits_due: list[HabitOut]
    goals: list[GoalOut]
    yesterday_checkin: CheckinOut | None
    text: str


class NextAction(BaseModel):
    kind: Literal["task", "chore", "habit", "none"]
    id: int | None
    title: str | None
    reason: str
    suggestion: str


# -- pure pieces --------------------------------------------------------------------------------

def day_tasks(
    tasks: list[TaskOut], start: datetime, end: datetime, with_overdue: bool
) -> list[TaskOut]:
    """Open tasks due in [start, end), and overdue ones first when it's today."""
    overdue = [t for t in tasks if with_overdue and t.overdue]
    listed = {t.id for t in overdue}
    due = [t for t in tasks if t.due_at and start <= t.due_at < end and t.id not in listed]
    overdue.sort(key=lambda t: (PRIORITY_RANK[t.priority], t.due_at or end))
    due.sort(key=lambda t: (t.due_at or end, PRIORITY_RANK[t.priority]))
    return overdue + due


def greeting(name: str, local: datetime, day: date) -> str:
    if day != local.date():
        return f"Hi {name}! Here's how {day.strftime('%A, %B')} {day.day} is shaping up."
    part = "morning" if local.hour < 12 else "afternoon" if local.hour < 18 else "evening"
    return f"Good {part}, {name}! Here's your {day.strftime('%A')}."


def _names(items: list[str]) -> str:
    shown = items[:MAX_LISTED]
    more = len(items) - len(shown)
    listed = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
    return listed + (f", plus {more} more" if more else "")


def _clock(value: datetime, tz: str) -> str:
    local = value.astimezone(ZoneInfo(tz))
    return local.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")


def briefing_text(b: Briefing, name: str, local: datetime, tz: str) -> str:
    lines = [greeting(name, local, b.day)]
    if b.events:
        lines.append("On the calendar: " + _names([
            e.title if e.all_day else f"{e.title} at {_clock(e.start, tz)}" for e in b.events
        ]) + ".")
    if b.tasks:
        lines.append(f"{len(b.tasks)} task{'s' if len(b.tasks) != 1 else ''} to look at: "
                     + _names([f"{t.title}{' (overdue)' if t.overdue else ''}" for t in b.tasks])
                     + ".")
    if b.chores:
        lines.append("Chores for you: " + _names([str(c.get("title")) for c in b.chores]) + ".")
    if b.habits_due:
        lines.append("Habits still open today: " + _names([
            f"{h.name} ({h.streak_current}-{h.streak_unit[:-1]} streak)" if h.streak_current
            else h.name for h in b.habits_due
        ]) + ".")
    if b.goals:
        lines.append("Goals: " + _names([f"{g.title} at {g.progress}%" for g in b.goals]) + ".")
    if len(lines) == 1:
        lines.append("Nothing on the list - a clear day. Enjoy it!")
    c = b.yesterday_checkin
    if c is not None and c.energy is not None:
        tail = " Go gently today." if c.energy <= LOW_ENERGY else ""
        lines.append(f"Yesterday you rated your energy {c.energy}/10.{tail}")
    return " ".join(lines)


def pick_next(
    tasks: list[TaskOut],
    chores: list[dict[str, Any]],
    habits: list[HabitOut],
    energy: int | None,
) -> NextAction:
    """One suggestion; low energy moves the small things (habits, chores) ahead of tasks."""
    pressing = sorted(
        (t for t in tasks if t.overdue and t.priority in ("urgent", "high")),
        key=lambda t: (PRIORITY_RANK[t.priority], _due(t)),
    )
    open_habits = sorted(habits, key=lambda h: -h.streak_current)
    dated = sorted((t for t in tasks if t.due_at), key=_due)
    rest = sorted((t for t in tasks if not t.due_at), key=lambda t: PRIORITY_RANK[t.priority])
    low = energy is not None and energy <= LOW_ENERGY
    options: list[NextAction | None] = [
        _task(pressing[0], "it's overdue and marked " + pressing[0].priority) if pressing else None,
        _chore(chores[0]) if chores else None,
        _habit(open_habits[0]) if open_habits else None,
        _task(dated[0], _due_reason(dated[0])) if dated else None,
        _task(rest[0], "it's the most important thing on your list") if rest else None,
    ]
    if low:
        options = [options[2], options[1], *options[:1], *options[3:]]
    for option in options:
        if option is not None:
            if low:
                option.reason = (
                    f"your energy is low today ({energy}/10), so a small step; {option.reason}"
                )
            return option
    return NextAction(kind="none", id=None, title=None, reason="nothing is waiting on you",
                      suggestion="You're all caught up - maybe take a real break.")


def _due(t: TaskOut) -> datetime:
    assert t.due_at is not None
    return t.due_at


def _task(t: TaskOut, reason: str) -> NextAction:
    return NextAction(kind="task", id=t.id, title=t.title, reason=reason,
                      suggestion=f"Work on \"{t.title}\".")


def _due_reason(t: TaskOut) -> str:
    return "it's overdue" if t.overdue else "it's the next thing due"


def _chore(c: dict[str, Any]) -> NextAction:
    title = str(c.get("title"))
    return NextAction(kind="chore", id=c.get("id"), title=title,
                      reason="it's overdue" if c.get("overdue") else "it's due today",
                      suggestion=f"Knock out the chore \"{title}\".")


def _habit(h: HabitOut) -> NextAction:
    streak = (
        f"keep your {h.streak_current}-{h.streak_unit[:-1]} streak alive"
        if h.streak_current else "it's not done yet today"
    )
    return NextAction(kind="habit", id=h.id, title=h.name, reason=streak,
                      suggestion=f"Do \"{h.name}\" now.")


# -- tools --------------------------------------------------------------------------------------

async def _habits_open(ctx: ToolContext) -> list[HabitOut]:
    return await ctx.services.habits.still_open(ctx.actor, ctx.member.id)


@registry.tool(writes=False)
async def get_daily_briefing(ctx: ToolContext, day: str | None = "today") -> Briefing:
    """The member's day at a glance: tasks, chores, events, habits still open, goals.

    Args:
        day: Which day: "today", "tomorrow", a weekday or an ISO date (2026-03-06).
    """
    svc, tz, now = ctx.services, ctx.tz, ctx.now()
    local = ctx.local_now()
    on = parse_day(day or "today", tz, now)
    start = combine_local(on, time(0), tz)
    end = combine_local(on + timedelta(days=1), time(0), tz)
    is_today = on == local.date()
    me = ctx.member.id
    # One after another on purpose: the registry runs a tool's reads in one shared
    # session, which loads the member once and cannot serve overlapping queries.
    # Only what the day shows: due that day, or (today) anything already overdue.
    open_tasks = await svc.tasks.list(
        ctx.actor, member_id=me, status="open", due_before=end,
        due_after=None if is_today else start,
    )
    yesterday = await svc.checkins.list(
        ctx.actor, me, start=on - timedelta(days=1), end=on - timedelta(days=1)
    )
    chores = await chores_due(ctx, ctx.member, [on])
    events = await svc.calendar.list(ctx.actor, start, end, member_id=me)
    habits = await _habits_open(ctx) if is_today else []
    goals = await svc.goals.list(ctx.actor, member_id=me, status="active")
    b = Briefing(
        day=on,
        tasks=day_tasks(open_tasks, start, end, with_overdue=is_today),
        chores=chores,
        events=events,
        habits_due=habits,
        goals=goals,
        yesterday_checkin=yesterday[0] if yesterday else None,
        text="",
    )
    b.text = briefing_text(b, ctx.member.name, local, tz)
    return b


@registry.tool(writes=False)
async def suggest_next_action(ctx: ToolContext) -> NextAction:
    """Suggest the one thing the member could do next, with the reason for it."""
    svc = ctx.services
    tasks = await svc.tasks.next_up(ctx.actor, member_id=ctx.member.id)
    chores = await chores_due(ctx, ctx.member, [ctx.local_now().date()])
    checkin = await svc.checkins.today(ctx.actor, ctx.member.id)
    habits = await _habits_open(ctx)
    return pick_next(tasks, chores, habits, checkin.energy if checkin else None)
