"""The household's own words as hassil slot lists: names and nicknames, chores, habits, open
tasks and goals, each with the forms people actually say ("Benny", "took out the trash").

`HouseholdLists.build` is pure (tests build one from plain refs); `ListCache.get` reads the
household through the services, keeps the result, and is told when a tool changed something.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hassil import SlotList, TextSlotList

from luna.brain.local import words
from luna.tools.context import ToolContext

GROUPS: dict[str, str] = {
    "everyone": "everyone", "everybody": "everyone", "the family": "everyone",
    "the whole family": "everyone", "all of you": "everyone", "the whole house": "everyone",
    "the kids": "@kids", "the children": "@kids", "both kids": "@kids",
    "the adults": "@adults", "the grownups": "@adults", "the grown ups": "@adults",
    "the parents": "@adults",
}
MONEY_UNITS = ("dollars", "dollar", "bucks", "usd", "$")
_RESERVED = re.compile(r"[()\[\]{}<>|@]")


@dataclass(frozen=True, slots=True)
class MemberRef:
    id: int
    name: str
    nicknames: tuple[str, ...] = ()
    role: str = "adult"


@dataclass(frozen=True, slots=True)
class ChoreRef:
    id: int
    title: str
    assignee: str | None = None


@dataclass(frozen=True, slots=True)
class HabitRef:
    id: int
    name: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRef:
    id: int
    title: str
    due: datetime | None = None
    """Local wall time (naive) in the speaker's zone."""


@dataclass(frozen=True, slots=True)
class GoalRef:
    id: int
    title: str
    unit: str | None = None


@dataclass(frozen=True)
class HouseholdLists:
    members: tuple[MemberRef, ...]
    chores: tuple[ChoreRef, ...] = ()
    habits: tuple[HabitRef, ...] = ()
    tasks: tuple[TaskRef, ...] = ()
    goals: tuple[GoalRef, ...] = ()
    slot_lists: dict[str, SlotList] = field(default_factory=dict, compare=False)
    aliases: dict[str, list[tuple[str, str]]] = field(default_factory=dict, compare=False)
    """kind ("chore", "task", "habit", "goal", "member") → (what people say, canonical name)."""

    @classmethod
    def build(
        cls,
        members: Iterable[MemberRef],
        chores: Iterable[ChoreRef] = (),
        habits: Iterable[HabitRef] = (),
        tasks: Iterable[TaskRef] = (),
        goals: Iterable[GoalRef] = (),
    ) -> HouseholdLists:
        ms, cs, hs = tuple(members), tuple(chores), tuple(habits)
        ts, gs = tuple(tasks), tuple(goals)
        member_pairs = _member_pairs(ms)
        chore_pairs = [(a, c.title) for c in cs for a in words.item_aliases(c.title)]
        chore_done = [(a, c.title) for c in cs for a in words.done_aliases(c.title)]
        task_pairs = [(a, t.title) for t in ts for a in words.item_aliases(t.title)]
        task_done = [(a, t.title) for t in ts for a in words.done_aliases(t.title)]
        habit_pairs = [(a, h.name) for h in hs for a in words.habit_aliases(h.name)]
        habit_done = [(a, h.name) for h in hs for a in words.habit_done_aliases(h.name)]
        goal_pairs, goal_units, goal_done = _goal_pairs(gs)
        recipients = [*member_pairs, *GROUPS.items()]
        lists: dict[str, SlotList] = {
            "member": _slot("member", member_pairs),
            "recipient": _slot("recipient", recipients),
            "chore": _slot("chore", chore_pairs),
            "chore_done": _slot("chore_done", chore_done),
            "task": _slot("task", task_pairs),
            "task_done": _slot("task_done", task_done),
            "habit": _slot("habit", habit_pairs),
            "habit_done": _slot("habit_done", habit_done),
            "goal": _slot("goal", goal_pairs),
            "goal_unit": _slot("goal_unit", goal_units),
            "goal_done": _slot("goal_done", goal_done),
        }
        aliases = {
            "member": member_pairs,
            "chore": [*chore_pairs, *chore_done],
            "task": [*task_pairs, *task_done],
            "habit": [*habit_pairs, *habit_done],
            "goal": goal_pairs,
        }
        return cls(ms, cs, hs, ts, gs, lists, aliases)

    def member(self, name: str) -> MemberRef | None:
        low = name.strip().lower()
        for m in self.members:
            if m.name.lower() == low or low in (n.lower() for n in m.nicknames):
                return m
        return None

    def member_by_id(self, member_id: int | None) -> MemberRef | None:
        return next((m for m in self.members if m.id == member_id), None)

    def task(self, title: str) -> TaskRef | None:
        return next((t for t in self.tasks if t.title == title), None)

    def habit(self, name: str) -> HabitRef | None:
        return next((h for h in self.habits if h.name == name), None)

    def goal(self, title: str) -> GoalRef | None:
        return next((g for g in self.goals if g.title == title), None)

    def chore(self, title: str) -> ChoreRef | None:
        return next((c for c in self.chores if c.title == title), None)


def _member_pairs(members: Sequence[MemberRef]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for m in members:
        for alias in (m.name, *m.nicknames):
            low = alias.strip().lower()
            if low:
                # "Avas list" is how "Ava's list" arrives from a phone keyboard in a hurry.
                pairs += [(low, m.name), (low + "s", m.name)]
    return pairs


def _goal_pairs(
    goals: Sequence[GoalRef],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    names: list[tuple[str, str]] = []
    units: list[tuple[str, str]] = []
    done: list[tuple[str, str]] = []
    for g in goals:
        low = " ".join(g.title.lower().split())
        no_number = " ".join(w for w in low.split() if not re.fullmatch(r"[\d.,$]+", w))
        names += [(low, g.title), (no_number, g.title)]
        parts = words.split_verb(no_number)
        if parts is not None:
            verb, _, obj = parts
            names += [(words.gerund(verb), g.title), (obj, g.title)]
            if verb == "save":
                names += [("savings", g.title), ("saving", g.title)]
            done.append((words.past(verb), g.title))
        unit = (g.unit or "").strip().lower()
        if unit:
            forms = MONEY_UNITS if unit in MONEY_UNITS else (unit, unit.rstrip("s"), unit + "s")
            units += [(f, g.title) for f in dict.fromkeys(forms)]
            names.append((unit, g.title))
    return _dedupe(names), _dedupe(units), _dedupe(done)


def _dedupe(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((a.strip(), v) for a, v in pairs if a.strip()))


def _slot(name: str, pairs: Iterable[tuple[str, Any]]) -> TextSlotList:
    clean = [(a, v) for a, v in pairs if not _RESERVED.search(a)]
    return TextSlotList.from_tuples(clean, allow_template=False, name=name)


# --- reading the household through the services -----------------------------------------------


WRITES_THAT_RENAME: dict[str, tuple[str, ...]] = {
    "create_task": ("tasks",),
    "complete_task": ("tasks",),
    "reschedule_task": ("tasks",),
    "create_chore": ("chores",),
    "delegate_chore": ("chores",),
    "log_habit": ("habits",),
    "create_goal": ("goals",),
    "update_goal_progress": ("goals",),
    "update_user_profile": ("members",),
    "undo_last_action": ("members", "chores", "habits", "tasks", "goals"),
}
"""Which lists a successful write can change (a new task, a finished goal, a new name)."""


@dataclass
class _Entry:
    at: float
    parts: dict[str, tuple[Any, ...]]
    lists: HouseholdLists | None = None


class ListCache:
    """Per-speaker lists, rebuilt only for what a write changed (or after `ttl` seconds, for
    changes made through other channels)."""

    def __init__(self, ttl: float = 30.0, max_entries: int = 512) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[int, int], _Entry] = {}

    def invalidate(self, household_id: int, parts: Iterable[str] | None = None) -> None:
        """Forget the household's lists (or only `parts` of them) for every speaker."""
        drop = set(parts) if parts is not None else None
        for key in [k for k in self._entries if k[0] == household_id]:
            entry = self._entries[key]
            if drop is None or "members" in drop:
                del self._entries[key]
                continue
            for part in drop:
                entry.parts.pop(part, None)
            entry.lists = None

    def after_tool(self, household_id: int, tool: str, result: Any) -> None:
        parts = WRITES_THAT_RENAME.get(tool)
        if not parts:
            return
        if tool == "log_habit" and isinstance(result, dict) and not result.get("created"):
            return  # logging an existing habit leaves its name as it was
        self.invalidate(household_id, parts)

    async def get(self, ctx: ToolContext) -> HouseholdLists:
        member = ctx.member
        key = (member.household_id, member.id)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or now - entry.at > self.ttl:
            entry = _Entry(at=now, parts={})
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry
        if entry.lists is None:
            await _fill(ctx, entry.parts)
            p = entry.parts
            entry.lists = HouseholdLists.build(
                p["members"], p["chores"], p["habits"], p["tasks"], p["goals"]
            )
        return entry.lists


async def _fill(ctx: ToolContext, parts: dict[str, tuple[Any, ...]]) -> None:
    services, actor, member = ctx.services, ctx.actor, ctx.member
    if "members" not in parts:
        parts["members"] = tuple(
            MemberRef(m.id, m.name, tuple(m.nicknames), m.role)
            for m in await services.members.list(actor)
        )
    if "chores" not in parts:
        parts["chores"] = tuple(
            ChoreRef(c.id, c.title, c.assignee_name) for c in await services.chores.list(actor)
        )
    if "habits" not in parts:
        parts["habits"] = tuple(
            HabitRef(h.id, h.name, h.unit)
            for h in await services.habits.list(actor, member_id=member.id)
        )
    if "tasks" not in parts:
        zi = ZoneInfo(member.timezone)
        parts["tasks"] = tuple(
            TaskRef(t.id, t.title,
                    t.due_at.astimezone(zi).replace(tzinfo=None) if t.due_at else None)
            for t in await services.tasks.list(actor, member_id=member.id, status="open")
        )
    if "goals" not in parts:
        parts["goals"] = tuple(
            GoalRef(g.id, g.title, g.unit)
            for g in await services.goals.list(actor, member_id=member.id, status="active")
        )
