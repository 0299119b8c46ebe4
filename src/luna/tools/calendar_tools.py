"""Calendar tools: what is on (events, tasks, chores) and adding family events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from luna.errors import Forbidden, InvalidInput, Upstream
from luna.services.calendar import EventOut, parse_window
from luna.services.when import attach, parse_when
from luna.tools.catalog import registry
from luna.tools.context import ToolContext
from luna.tools.people import Person, resolve_member, resolve_members

log = structlog.get_logger(__name__)

WHOLE_FAMILY = frozenset({"everyone", "all", "family", "the family", "whole family", "us"})
MAX_CHORE_DAYS = 31


async def chores_due(ctx: ToolContext, member: Person, days: list[date]) -> list[Any]:
    """Chores due for `member` on each day."""
    per_day = await ctx.services.chore_backend.on_days(
        ctx.actor, days[:MAX_CHORE_DAYS], member_id=member.id
    )
    return [{"day": day.isoformat(), **c.model_dump(mode="json")}
            for day, items in per_day.items() for c in items]


def local_days(start: datetime, end: datetime, tz: str) -> list[date]:
    """Each local date touched by [start, end)."""
    zi = ZoneInfo(tz)
    first = start.astimezone(zi).date()
    last = (end - timedelta(microseconds=1)).astimezone(zi).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@registry.tool(writes=False)
async def get_schedule(
    ctx: ToolContext,
    start: str | None = "today",
    end: str | None = None,
    member: str | None = None,
) -> dict[str, Any]:
    """What is on for a member: family calendar events, tasks due and chores due in a window.

    Args:
        start: Where the window starts: a day ("today", "friday", "2026-03-06") or a time.
        end: The last day included ("sunday", "2026-03-08") or an exact time; default one day.
        member: Whose schedule (a name or nickname); default the member speaking.
    """
    who = await resolve_member(ctx, member) if member else ctx.member
    begin, stop = parse_window(start or "today", end, ctx.tz, ctx.now(), default_days=1)
    events = await ctx.services.calendar.list(ctx.actor, begin, stop, member_id=who.id)
    try:
        tasks: list[Any] = await ctx.services.tasks.list(
            ctx.actor, member_id=who.id, status="open", due_after=begin, due_before=stop
        )
    except Forbidden:
        tasks = []  # a child may see the family calendar but not an adult's to-dos
    unavailable: dict[str, str] = {}
    try:
        chores = await chores_due(ctx, who, local_days(begin, stop, ctx.tz))
    except Upstream as exc:
        # An external chore app being down must not hide the rest of the day.
        chores, unavailable = [], {"chores_unavailable": exc.detail}
    return {
        "member": who.name,
        "start": begin.astimezone(ZoneInfo(ctx.tz)),
        "end": stop.astimezone(ZoneInfo(ctx.tz)),
        "events": events,
        "tasks": tasks,
        "chores": chores,
        **unavailable,
        "count": len(events) + len(tasks) + len(chores),
    }


def event_end(ctx: ToolContext, start: datetime, end: str) -> datetime:
    """The end time; "4pm" said after "tomorrow at 3pm" means 4pm that same day."""
    stop = parse_when(end, ctx.tz, ctx.now())
    zi = ZoneInfo(ctx.tz)
    local_start = start.astimezone(zi)
    if stop < start and stop.astimezone(zi).date() != local_start.date():
        same_day = attach(datetime.combine(local_start.date(), stop.astimezone(zi).time()), zi)
        if same_day >= start:
            return same_day
    return stop


@registry.tool(writes=True)
async def add_event(
    ctx: ToolContext,
    title: str,
    start: str,
    end: str | None = None,
    all_day: bool = False,
    location: str | None = None,
    members: list[str] | None = None,
) -> EventOut:
    """Put an event on the family calendar.

    Args:
        title: What the event is, without the date words ("Ava's recital").
        start: When it starts: ISO 8601 local time ("2026-03-06T18:00") or words ("friday at 6pm").
        end: When it ends, if known (ISO 8601 or words like "7:30pm").
        all_day: True for an event that fills whole days (a birthday, a trip).
        location: Where it happens.
        members: Who it is for (names or nicknames, "me" for the speaker); empty for everyone.
    """
    begin = parse_when(start, ctx.tz, ctx.now())
    local_now = ctx.local_now()
    if all_day:
        if begin.astimezone(ZoneInfo(ctx.tz)).date() < local_now.date():
            raise InvalidInput(f"{start!r} is in the past; give a day that is still to come")
    elif begin < ctx.now():
        raise InvalidInput(f"{start!r} is in the past; give a time that is still to come")
    stop = event_end(ctx, begin, end) if end else None
    names = [n for n in members or [] if n.strip().lower() not in WHOLE_FAMILY]
    people = await resolve_members(ctx, names)
    return await ctx.services.calendar.add(
        ctx.actor, title, begin, stop, all_day=all_day, location=location,
        member_ids=[p.id for p in people],
    )
