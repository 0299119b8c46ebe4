"""The household's own words as hassil slot lists: names and nicknames, chores, habits, open
tasks and goals, each with the forms people actually say ("Benny", "took out the trash").

`HouseholdLists.build` is pure (tests build one from plain refs); `ListCache.get` reads the
household through the services, keeps the result, and is told when a tool changed something.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from weakref import WeakValueDictionary
from zoneinfo import ZoneInfo

from hassil import SlotList, TextSlotList

from luna.brain.local import words
from luna.brain.local.slots import PrefixSlotList, ValuesPart
from luna.tools.context import ToolContext

GROUPS: dict[str, str] = {
    "everyone": "everyone", "everybody": "everyone", "the family": "everyone",
    "the whole family": "everyone", "all of you": "everyone", "the whole house": "everyone",
    "the kids": "@kids", "the children": "@kids", "both kids": "@kids",
    "the adults": "@adults", "the grownups": "@adults", "the grown ups": "@adults",
    "the parents": "@adults",
}
MONEY_UNITS = ("dollars", "dollar", "bucks", "usd", "$")


class MemberRef(NamedTuple):
    # A tuple, not a dataclass: a household's members key a cache on every list build, and a
    # tuple hashes and compares in C.
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
        lists: dict[str, SlotList] = {}
        aliases: dict[str, list[tuple[str, str]]] = {}
        # Keyed by the words alone: completing a chore moves it to someone else and a new due
        # date moves a task, but what people call them, and so their slot lists, stay the same.
        for part in (_member_part(ms), _chore_part(_names(c.title for c in cs)),
                     _habit_part(_names(h.name for h in hs)),
                     _task_part(_names(t.title for t in ts)), _goal_part(gs)):
            lists.update(part[0])
            aliases.update(part[1])
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


# Each part's slot lists are cached by content: after a write only the part that changed is
# rebuilt, and hassil keeps the value index it built for the others. The caches stay small: a
# part's tries are thousands of objects, and every one that lives on lengthens each full
# collection of the garbage collector (64 stale task lists made them take 100-300 ms).
Part = tuple[dict[str, SlotList], dict[str, list[tuple[str, str]]]]
SHARED_PARTS = 32
"""Household-wide parts (members, chores) are the same for everyone in a household."""
OWN_PARTS = 8
"""A member's own parts (tasks, habits, goals) change with each write and are rarely shared."""


@lru_cache(maxsize=SHARED_PARTS)
def _member_part(ms: tuple[MemberRef, ...]) -> Part:
    pairs = _member_pairs(ms)
    lists: dict[str, SlotList] = {
        "member": _slot("member", pairs),
        "recipient": _slot("recipient", [*pairs, *GROUPS.items()]),
    }
    return lists, {"member": pairs}


@lru_cache(maxsize=SHARED_PARTS)
def _chore_part(titles: tuple[str, ...]) -> Part:
    return _said_and_done("chore", titles, words.item_aliases, words.done_aliases)


@lru_cache(maxsize=OWN_PARTS)
def _habit_part(names: tuple[str, ...]) -> Part:
    return _said_and_done("habit", names, words.habit_aliases, words.habit_done_aliases)


@lru_cache(maxsize=OWN_PARTS)
def _task_part(titles: tuple[str, ...]) -> Part:
    return _said_and_done("task", titles, words.item_aliases, words.done_aliases)


Aliases = Callable[[str], tuple[str, ...]]
_NAME_PARTS: WeakValueDictionary[tuple[str, str], ValuesPart] = WeakValueDictionary()
"""Each name's values, for as long as a list made of them is alive: a new task rebuilds its
owner's lists from the other tasks' parts and one new part."""


def _said_and_done(kind: str, names: tuple[str, ...], said: Aliases, done: Aliases) -> Part:
    says = [_name_part(kind, n, said) for n in names]
    dones = [_name_part(f"{kind}_done", n, done) for n in names]
    lists: dict[str, SlotList] = {
        kind: PrefixSlotList.joined(says, kind),
        f"{kind}_done": PrefixSlotList.joined(dones, f"{kind}_done"),
    }
    return lists, {kind: [pair for part in (*says, *dones) for pair in part.pairs]}


def _name_part(kind: str, name: str, aliases: Aliases) -> ValuesPart:
    part = _NAME_PARTS.get((kind, name))
    if part is None:
        part = ValuesPart.of((a, name) for a in aliases(name))
        _NAME_PARTS[(kind, name)] = part
    return part


@lru_cache(maxsize=OWN_PARTS)
def _goal_part(gs: tuple[GoalRef, ...]) -> Part:
    names, units, done = _goal_pairs(gs)
    lists: dict[str, SlotList] = {
        "goal": _slot("goal", names), "goal_unit": _slot("goal_unit", units),
        "goal_done": _slot("goal_done", done),
    }
    return lists, {"goal": names}


def _names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(names)))


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
    # Taken literally: a title with brackets in it ("Call mom (urgent)") is not a template.
    return PrefixSlotList.of(pairs, name)


# --- reading the household through the services -----------------------------------------------


PatchFn = Callable[[tuple[Any, ...], dict[str, Any], str], tuple[Any, ...]]


def _task_ref(d: dict[str, Any], tz: str) -> TaskRef:
    due = d.get("due_at")
    local = (datetime.fromisoformat(due).astimezone(ZoneInfo(tz)).replace(tzinfo=None)
             if due else None)
    return TaskRef(int(d["id"]), str(d["title"]), local)


def _without(items: tuple[Any, ...], item_id: int) -> tuple[Any, ...]:
    return tuple(i for i in items if i.id != item_id)


def _put(items: tuple[Any, ...], item: Any) -> tuple[Any, ...]:
    return (*_without(items, item.id), item)


def _patch_tasks(items: tuple[Any, ...], d: dict[str, Any], tz: str) -> tuple[Any, ...]:
    if d.get("status") in ("completed", "cancelled"):
        return _without(items, int(d["id"]))
    return _put(items, _task_ref(d, tz))


def _patch_chores(items: tuple[Any, ...], d: dict[str, Any], tz: str) -> tuple[Any, ...]:
    return _put(items, ChoreRef(int(d["id"]), str(d["title"]), d.get("assignee_name")))


def _patch_habits(items: tuple[Any, ...], d: dict[str, Any], tz: str) -> tuple[Any, ...]:
    if not d.get("created"):
        return items  # logging an existing habit leaves its name as it was
    h = d["habit"]
    return _put(items, HabitRef(int(h["id"]), str(h["name"]), h.get("unit")))


def _patch_goals(items: tuple[Any, ...], d: dict[str, Any], tz: str) -> tuple[Any, ...]:
    g = d.get("goal", d)
    if g.get("status") not in (None, "active", "paused"):
        return _without(items, int(g["id"]))
    return _put(items, GoalRef(int(g["id"]), str(g["title"]), g.get("unit")))


PATCHES: dict[str, tuple[str, PatchFn]] = {
    "create_task": ("tasks", _patch_tasks),
    "complete_task": ("tasks", _patch_tasks),
    "reschedule_task": ("tasks", _patch_tasks),
    "create_chore": ("chores", _patch_chores),
    "delegate_chore": ("chores", _patch_chores),
    "log_habit": ("habits", _patch_habits),
    "create_goal": ("goals", _patch_goals),
    "update_goal_progress": ("goals", _patch_goals),
}
"""Writes whose result says exactly how a list changed: the cache is patched, not re-read."""
REREAD: dict[str, tuple[str, ...] | None] = {
    "update_user_profile": ("members", "chores"),
    "undo_last_action": None,
}
"""Writes whose result doesn't say what changed: the parts they can touch are read again (a new
nickname renames the member and the chores assigned to them; an undo may change anything)."""


PARTS = ("members", "chores", "habits", "tasks", "goals")
OWN = ("habits", "tasks", "goals")
"""The parts that are the speaker's own; the others are the household's."""
TOUCHES: dict[str, tuple[str, ...]] = {
    **{tool: (part,) for tool, (part, _) in PATCHES.items()},
    **{tool: parts or PARTS for tool, parts in REREAD.items()},
    "complete_chore": ("chores",), "reschedule_chore": ("chores",),
    "add_event": (), "send_family_message": (), "update_daily_metrics": (),
}
"""The list parts a logged write of each tool can change; a tool not named here, all of them."""
CATCH_UP_S = 0.1
"""How often a process asks whether other processes (`luna serve --workers N`) changed a
household: at most once this often per household, however many of its members are texting.
Lists only steer recognition (the services decide), and a text they do not recognise asks at
once (`ListCache.catch_up_now`): it may name what another worker added a moment ago."""


@dataclass
class _Entry:
    at: float
    parts: dict[str, tuple[Any, ...]]
    lists: HouseholdLists | None = None
    generation: int = 0
    """Bumped on every change of `parts`: a turn that read parts meanwhile keeps its own."""
    previous: HouseholdLists | None = None
    """The lists before the change, until the next build: it reuses their names' values."""

    def changed(self) -> None:
        self.previous = self.lists or self.previous
        self.lists = None
        self.generation += 1


@dataclass
class _Household:
    seen: int
    """The household's newest action-log id this process has caught up with."""
    checked: float
    """When it last asked (time.monotonic)."""


class ListCache:
    """Per-speaker lists, kept current from the results of this process's own writes, from
    other processes' writes (asked about every `catch_up_s`), or read again after `ttl`
    seconds (for changes made other than by a tool: the dashboard's)."""

    def __init__(
        self, ttl: float = 10.0, max_entries: int = 512, catch_up_s: float = CATCH_UP_S
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.catch_up_s = catch_up_s
        self.max_households = max_entries  # catch-up marks kept, one per household
        self._entries: dict[tuple[int, int], _Entry] = {}
        self._households: dict[int, _Household] = {}

    def invalidate(self, household_id: int, parts: Iterable[str] | None = None) -> None:
        """Forget the household's lists (or only `parts` of them) for every speaker."""
        drop = set(parts) if parts is not None else None
        for key in [k for k in self._entries if k[0] == household_id]:
            entry = self._entries[key]
            if drop is None:
                del self._entries[key]
                continue
            for part in drop:
                entry.parts.pop(part, None)
            entry.changed()

    def after_tool(self, ctx: ToolContext, tool: str, result: Any) -> None:
        """Bring the lists up to date after a successful write."""
        hid, mid = ctx.member.household_id, ctx.member.id
        if tool in REREAD:
            self.invalidate(hid, REREAD[tool])
            return
        patch = PATCHES.get(tool)
        if patch is None:
            return
        part, fn = patch
        entry = self._entries.get((hid, mid))
        if entry is None or part not in entry.parts or not isinstance(result, dict):
            self.invalidate(hid, [part])
            return
        try:
            entry.parts[part] = fn(entry.parts[part], result, ctx.tz)
        except (KeyError, TypeError, ValueError):
            self.invalidate(hid, [part])  # an unexpected result shape: read it again
            return
        entry.changed()
        if part == "chores":  # chores are the household's: others see the change on next read
            for key, other in self._entries.items():
                if key[0] == hid and key[1] != mid:
                    other.parts.pop("chores", None)
                    other.changed()

    async def catch_up_now(self, ctx: ToolContext) -> bool:
        """Ask at once, whatever the interval: for a text these lists did not recognise, which
        may name what another process added a moment ago ("add X" through one worker, "done
        with X" through the next). True if the speaker's lists changed."""
        key = (ctx.member.household_id, ctx.member.id)
        before = self._entries.get(key)
        generation = before.generation if before is not None else None
        await self._catch_up(ctx, time.monotonic(), force=True)
        after = self._entries.get(key)
        return after is not None and (after is not before or after.generation != generation)

    async def _catch_up(self, ctx: ToolContext, now: float, force: bool = False) -> None:
        """Another process may have changed the household since its lists were read: the
        parts its writes touch are dropped, for every speaker, and read again when needed.
        This process's own writes patched them already (`after_tool`)."""
        actions, household_id = ctx.services.actions, ctx.member.household_id
        known = self._households.get(household_id)
        if known is None:
            seen = await actions.latest_id(household_id)  # before the reads it vouches for
            # Lists read before this mark (the household was forgotten to make room) cannot be
            # caught up from it: they are read again.
            self.invalidate(household_id)
            if len(self._households) >= self.max_households:
                self._households.pop(next(iter(self._households)))
            self._households[household_id] = _Household(seen, now)
            return
        if now - known.checked < self.catch_up_s and not force:
            return
        known.checked = now  # before the query: the household's other turns meanwhile skip it
        writes, known.seen = await actions.written_elsewhere(household_id, known.seen)
        if not writes:
            return
        for (hid, speaker_id), entry in self._entries.items():
            if hid != household_id:
                continue
            dropped = False
            for tool, writer in writes:
                parts = TOUCHES.get(tool, PARTS)
                if tool in TOUCHES and writer != speaker_id:
                    # The tools change a member's own tasks, habits and goals only for the
                    # member who spoke.
                    parts = tuple(p for p in parts if p not in OWN)
                for part in parts:
                    entry.parts.pop(part, None)
                dropped = dropped or bool(parts)
            if dropped:
                entry.changed()

    async def get(self, ctx: ToolContext) -> HouseholdLists:
        member = ctx.member
        key = (member.household_id, member.id)
        now = time.monotonic()
        await self._catch_up(ctx, now)
        entry = self._entries.get(key)
        if entry is None or now - entry.at > self.ttl:
            # Read again; the names that did not change keep their values.
            old = (entry.lists or entry.previous) if entry is not None else None
            entry = _Entry(at=now, parts={}, previous=old)
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry
        if entry.lists is not None:
            return entry.lists
        # Another turn of the same speaker may change the entry while this one reads: the
        # parts are read and built as one snapshot, kept only if nothing changed meanwhile.
        generation, parts = entry.generation, dict(entry.parts)
        if len(parts) < len(PARTS):
            async with ctx.services.db.shared_reads():  # one session for up to five reads
                await _fill_parts(ctx, parts)
        lists = HouseholdLists.build(
            parts["members"], parts["chores"], parts["habits"], parts["tasks"], parts["goals"]
        )
        if entry.generation == generation:
            entry.parts, entry.lists, entry.previous = parts, lists, None
        return lists


async def _fill_parts(ctx: ToolContext, parts: dict[str, tuple[Any, ...]]) -> None:
    services, actor, member = ctx.services, ctx.actor, ctx.member
    if "members" not in parts:
        parts["members"] = tuple(
            MemberRef(m.id, m.name, m.nicknames, m.role)
            for m in await services.members.names(actor)
        )
    if "chores" not in parts:
        parts["chores"] = tuple(
            ChoreRef(c.id, c.title, c.assignee_name) for c in await services.chores.names(actor)
        )
    if "habits" not in parts:
        parts["habits"] = tuple(
            HabitRef(h.id, h.name, h.unit)
            for h in await services.habits.names(actor, member_id=member.id)
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
