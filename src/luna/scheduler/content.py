"""What Luna says when she reaches out. Templates by default; the morning briefing is written by
the LLM when one is configured and the member's month is within its cost cap.

The briefing reuses the `get_daily_briefing` tool, so it says exactly what the member hears
when they ask "what's my day?". Each text is built at send time from current data: an item done
since it was planned is not nagged about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from luna.domain.localday import zone
from luna.errors import LunaError
from luna.scheduler.store import Claimed, ScheduleStore
from luna.services.access import Actor
from luna.services.chores import ChoreOut
from luna.services.container import Services
from luna.services.interactions import month_bounds
from luna.services.members import MemberOut
from luna.services.tasks import TaskOut
from luna.tools.context import ToolContext
from luna.tools.planning_tools import get_daily_briefing

log = structlog.get_logger(__name__)

MAX_LISTED = 4
LLM_USAGE_KIND = "briefing_llm"
"""What LLM-written briefings are billed as; the monthly cap sums exactly this."""
ENCOURAGEMENTS = (
    "Small steps count - one thing at a time.",
    "You've handled harder days than this one.",
    "Be kind to yourself today.",
    "Progress, not perfection.",
)


@dataclass(frozen=True, slots=True)
class Outreach:
    """One message to send: its text, who gets it and, for calls, what the call is for."""

    text: str
    to_member_id: int
    purpose: str | None = None
    """The voice purpose when the nudge is a call (the call module's PURPOSES)."""
    cost_usd: float = 0.0
    written_by: str = "template"


class BriefingWriter(Protocol):
    async def write(self, member: MemberOut, facts: str) -> tuple[str, float]:
        """A warm SMS briefing from the facts, and what writing it cost in USD."""
        ...


# -- pure texts ----------------------------------------------------------------------------------


def _learned(ai_context: Mapping[str, Any], key: str) -> list[str]:
    learning = ai_context.get("learning_data") or {}
    items = learning.get(key) or []
    out: list[str] = []
    for item in items if isinstance(items, list) else [items]:
        text = item.get("text") or item.get("win") if isinstance(item, dict) else item
        if isinstance(text, str) and text.strip():
            out.append(text.strip().rstrip("."))
    return out


def encouragement(ai_context: Mapping[str, Any], day: dt.date) -> str:
    """One line drawn from what Luna knows about the member, varied by the day."""
    wins = _learned(ai_context, "recent_wins")
    motivations = _learned(ai_context, "motivations")
    values = _learned(ai_context, "values")
    options: list[str] = []
    options += [f"Remember: {w} - you can do it again." for w in wins[-3:]]
    options += [f"Keep {m} in mind today." for m in motivations]
    options += [f"Today is another chance to live your value of {v}." for v in values]
    pool = options or list(ENCOURAGEMENTS)
    return pool[day.toordinal() % len(pool)]


def clock_text(value: dt.datetime, tz: str) -> str:
    local = value.astimezone(zone(tz))
    return local.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")


def _listed(items: Sequence[str]) -> str:
    shown = list(items[:MAX_LISTED])
    more = len(items) - len(shown)
    text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
    return text + (f", plus {more} more" if more else "")


def reflection_text(name: str) -> str:
    return (f"Good evening, {name}! How did today go? Tell me one win, rate your mood and "
            "energy from 1 to 10, and name your top three for tomorrow.")


def habit_text(name: str, streak: int, unit: str) -> str:
    keep = f" Keep your {streak}-{unit.rstrip('s')} streak going!" if streak > 1 else ""
    return f"Reminder: time for {name}.{keep} Text \"done {name.lower()}\" when it's done."


def deadline_text(title: str, due: str) -> str:
    return f"Heads up: \"{title}\" is due at {due}."


def digest_text(tasks: Sequence[TaskOut], chores: Sequence[ChoreOut], tz: str) -> str:
    names = [f"\"{t.title}\"" for t in tasks] + [f"\"{c.title}\" (chore)" for c in chores]
    return (f"Still open and past due: {_listed(names)}. Reply \"done\" with one, or tell me "
            "when to move it.")


def critical_text(title: str, due: str) -> str:
    return f"Important: \"{title}\" is due at {due}. Reply OK when it's taken care of."


def backup_text(name: str, title: str, due: str) -> str:
    return (f"Luna here: {name} hasn't answered about \"{title}\" (due {due}). "
            "Could you check in with them?")


# -- building a nudge's message ------------------------------------------------------------------


def actor_of(member: MemberOut) -> Actor:
    return Actor(member.household_id, member.id, "child" if member.role == "child" else "adult")


class Content:
    def __init__(
        self, services: Services, store: ScheduleStore, writer: BriefingWriter | None = None,
        monthly_cap_usd: float = 0.0,
    ) -> None:
        self.services = services
        self.store = store
        self.writer = writer
        self.monthly_cap_usd = monthly_cap_usd

    async def render(self, c: Claimed, member: MemberOut) -> Outreach | str:
        """The message for `c`, or the reason there is nothing to say any more."""
        actor = actor_of(member)
        if c.kind == "morning_briefing":
            return await self._briefing(c, member)
        if c.kind == "evening_reflection":
            return Outreach(reflection_text(member.name), member.id,
                            purpose="evening_reflection" if c.channel == "call" else None)
        if c.kind == "habit_reminder":
            assert c.ref is not None
            try:
                habit = await self.services.habits.get(actor, c.ref)
            except LunaError:
                return "habit removed"
            if habit.logged_today:
                return "already logged"
            return Outreach(habit_text(habit.name, habit.streak_current, habit.streak_unit),
                            member.id)
        if c.kind == "overdue_digest":
            tasks = await self.services.tasks.list(actor, member_id=member.id, overdue=True)
            chores = await self.services.chores.overdue(actor, member_id=member.id)
            if not tasks and not chores:
                return "nothing overdue any more"
            return Outreach(digest_text(tasks, chores, member.timezone), member.id)
        return await self._task_nudge(c, member, actor)

    async def _task_nudge(self, c: Claimed, member: MemberOut, actor: Actor) -> Outreach | str:
        assert c.ref is not None
        try:
            task = await self.services.tasks.get(actor, c.ref)
        except LunaError:
            return "task removed"
        if task.status not in ("pending", "in_progress"):
            return "task done"
        if task.due_at is None or _minute(task.due_at) != _task_due(c):
            return "task rescheduled"
        due = clock_text(task.due_at, member.timezone)
        if c.kind == "deadline":
            return Outreach(deadline_text(task.title, due), member.id)
        if c.step == 1:
            return Outreach(critical_text(task.title, due), member.id)
        if c.step == 2:
            return Outreach(critical_text(task.title, due), member.id, purpose="reminder")
        backup = await self.store.backup_for(member.id)
        if backup is None:
            return "no backup member"
        return Outreach(backup_text(member.name, task.title, due), backup)

    async def _briefing(self, c: Claimed, member: MemberOut) -> Outreach:
        ctx = ToolContext(services=self.services, member=member, channel="scheduler")
        briefing = await get_daily_briefing(ctx, day="today")
        cheer = encouragement(member.ai_context, c.local_date)
        text = f"{briefing.text} {cheer}"
        purpose = "morning_briefing" if c.channel == "call" else None
        if self.writer is not None and c.channel == "sms" and await self._within_cap(member):
            try:
                written, cost = await self.writer.write(member, text)
            except LunaError as exc:
                log.warning("briefing_llm_failed", member_id=member.id, error=exc.code)
            else:
                if written.strip():
                    return Outreach(written.strip(), member.id, purpose, cost, "llm")
        return Outreach(text, member.id, purpose)

    async def _within_cap(self, member: MemberOut) -> bool:
        if self.monthly_cap_usd <= 0:
            return False
        local = self.services.clock.now().astimezone(zone(member.timezone))
        start, end = month_bounds(local.year, local.month, member.timezone)
        spent = await self.store.spent(member.id, LLM_USAGE_KIND, start, end)
        return spent < self.monthly_cap_usd


def _task_due(c: Claimed) -> dt.datetime:
    """The due instant the nudge was planned for (it is in the key)."""
    stamp = c.key.split(":")[3]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=dt.UTC)


def _minute(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(second=0, microsecond=0)
