"""The Rivera household the local brain is tested (and benchmarked) against, built through the
services at the frozen clock 2026-03-04T15:30Z (Wednesday 10:30 in New York).

Maya (adult, the default speaker), Ben (adult, "Benny"), Ava and Noah (children), Joe (adult,
"Grandpa"); five chores, four habits, three open tasks and two goals for Maya.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from luna.brain.local.engine import LocalBrain, env_for
from luna.brain.local.lists import ChoreRef, GoalRef, HabitRef, HouseholdLists, MemberRef, TaskRef
from luna.services.access import ADMIN, Actor
from luna.services.chores import ScheduleIn
from luna.services.container import Services
from luna.services.when import attach
from luna.tools.context import ToolContext

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
TZ = "America/New_York"


@dataclass
class BrainFamily:
    household_id: int
    ids: dict[str, int] = field(default_factory=dict)
    """Member name → id."""
    chores: dict[str, int] = field(default_factory=dict)
    habits: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    goals: dict[str, int] = field(default_factory=dict)

    def actor(self, name: str = "Maya") -> Actor:
        role = "child" if name in ("Ava", "Noah") else "adult"
        return Actor(household_id=self.household_id, member_id=self.ids[name], role=role)

    async def ctx(
        self, services: Services, name: str = "Maya", channel: str = "sms"
    ) -> ToolContext:
        member = await services.members.get(self.actor(name), self.ids[name])
        return ToolContext(services=services, member=member, channel=channel)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return attach(datetime(day.year, day.month, day.day, hour, minute), ZoneInfo(TZ))


async def build_family(services: Services, *, name: str = "Rivera", phone: str = "+1555030") -> (
    BrainFamily
):
    created = await services.members.create_household(
        ADMIN, name=name, timezone=TZ, admin_name="Maya", admin_phone=f"{phone}0001",
    )
    fam = BrainFamily(created.id, {"Maya": created.admin_member_id})
    hid = created.id
    for member, role, nicknames, n in (
        ("Ben", "adult", ["Benny"], 2), ("Ava", "child", [], 3), ("Noah", "child", [], 4),
        ("Joe", "adult", ["Grandpa"], 5),
    ):
        m = await services.members.add_member(
            ADMIN, household_id=hid, name=member, role=role, nicknames=nicknames,  # type: ignore[arg-type]
            phone=f"{phone}000{n}",
        )
        fam.ids[member] = m.id
    maya = fam.actor("Maya")
    today = NOW.astimezone(ZoneInfo(TZ)).date()
    clock: Any = services.clock
    chores: list[tuple[str, ScheduleIn, dict[str, Any]]] = [
        ("Empty the recycling", ScheduleIn(kind="weekly", weekdays=["wed"]),
         {"assignee_id": fam.ids["Ben"], "points": 2}),
        ("Do the dishes", ScheduleIn(kind="every_n_days", interval_days=1), {}),
        ("Laundry", ScheduleIn(kind="weekly", weekdays=["sat"]),
         {"assignee_id": fam.ids["Maya"], "points": 3}),
        ("Feed the cat", ScheduleIn(kind="every_n_days", interval_days=1),
         {"assignment_mode": "rotation",
          "rotation_member_ids": [fam.ids["Ava"], fam.ids["Noah"]]}),
    ]
    for title, schedule, extra in chores:
        c = await services.chores.create(maya, title=title, schedule=schedule, **extra)
        fam.chores[title] = c.id
    # Made on Monday and never done, so it is overdue now.
    if hasattr(clock, "set"):
        clock.set(NOW - timedelta(days=2))
    trash = await services.chores.create(
        maya, title="Take out the trash",
        schedule=ScheduleIn(kind="weekly", weekdays=["mon", "thu"]), assignee_id=fam.ids["Noah"],
    )
    if hasattr(clock, "set"):
        clock.set(NOW)
    fam.chores["Take out the trash"] = trash.id
    for habit, extra in (
        ("Journaling", {}), ("Squats", {"unit": "reps"}),
        ("Running", {"unit": "miles", "frequency": "times_per_week", "times_per_week": 3}),
        ("Meditate", {}),
    ):
        h = await services.habits.create(maya, name=habit, member_id=fam.ids["Maya"], **extra)
        fam.habits[habit] = h.id
    for back in (1, 2, 3):
        await services.habits.log(maya, fam.habits["Journaling"], day=today - timedelta(days=back))
    await services.habits.log(maya, fam.habits["Running"], 3, day=today - timedelta(days=1))
    for title, due in (
        ("Vet appointment", _local(date(2026, 3, 6), 9)), ("Call the dentist", None),
        ("Renew passport", None),
    ):
        t = await services.tasks.create(maya, title=title, member_id=fam.ids["Maya"], due_at=due)
        fam.tasks[title] = t.id
    await services.tasks.create(fam.actor("Ben"), title="Fix the bike", member_id=fam.ids["Ben"])
    for title, unit, target, category in (
        ("Read 12 books", "books", 12, "learning"), ("Save 2000 dollars", "dollars", 2000,
                                                     "financial"),
    ):
        g = await services.goals.create(
            maya, title=title, member_id=fam.ids["Maya"], unit=unit, target_value=target,
            timeframe="yearly", category=category,  # type: ignore[arg-type]
        )
        fam.goals[title] = g.id
    await services.calendar.add(
        maya, "Soccer practice", _local(date(2026, 3, 5), 17), _local(date(2026, 3, 5), 18),
        member_ids=[fam.ids["Ava"]],
    )
    return fam


# --- the labelled set --------------------------------------------------------------------------

CASES = Path(__file__).parent / "data" / "intents.yaml"
Calls = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    text: str
    speaker: str
    calls: Calls | None
    """None: no tool; the local brain answers itself when `local`, else returns None."""
    local: bool = False
    holdout: bool = False
    """Written after the grammar was tuned, to estimate accuracy on unseen wording."""

    @property
    def tool(self) -> str | None:
        return self.calls[0][0] if self.calls else None


def load_cases(path: Path = CASES) -> list[Case]:
    raw = yaml.safe_load(path.read_text())["cases"]
    out = []
    for c in raw:
        if "calls" in c:
            calls: Calls | None = [(x["tool"], dict(x.get("arguments") or {})) for x in c["calls"]]
        elif c.get("tool"):
            calls = [(c["tool"], dict(c.get("arguments") or {}))]
        else:
            calls = None
        out.append(Case(str(c["text"]), str(c.get("speaker", "Maya")), calls,
                        bool(c.get("local", False)), bool(c.get("holdout", False))))
    return out


@dataclass
class Planned:
    intent: str | None
    calls: Calls | None
    local_reply: bool


async def plan_case(brain: LocalBrain, services: Services, fam: BrainFamily, case: Case) -> (
    Planned
):
    """What the local brain would do for `case`, without running any tool."""
    ctx = await fam.ctx(services, case.speaker)
    lists = await brain.lists.get(ctx)
    match, plan = brain.understand(case.text, lists, env_for(ctx, lists))
    if match is None or plan is None:
        return Planned(None, None, False)
    calls = [(c.tool, dict(c.arguments)) for c in plan.calls] or None
    return Planned(plan.intent, calls, bool(plan.reply) and not plan.calls)


def tool_right(case: Case, got: Planned) -> bool:
    if case.calls is None:
        return got.calls is None and got.local_reply == case.local
    return got.calls is not None and got.calls[0][0] == case.calls[0][0]


def args_right(case: Case, got: Planned) -> bool:
    if case.calls is None:
        return tool_right(case, got)
    return got.calls == case.calls


def household_lists() -> HouseholdLists:
    """The same household as plain lists, for tests that need no database."""
    return HouseholdLists.build(
        [MemberRef(1, "Maya"), MemberRef(2, "Ben", ("Benny",)), MemberRef(3, "Ava", (), "child"),
         MemberRef(4, "Noah", (), "child"), MemberRef(5, "Joe", ("Grandpa",))],
        [ChoreRef(1, "Empty the recycling", "Ben"), ChoreRef(2, "Do the dishes"),
         ChoreRef(3, "Laundry", "Maya"), ChoreRef(4, "Feed the cat", "Ava"),
         ChoreRef(5, "Take out the trash", "Noah")],
        [HabitRef(1, "Journaling"), HabitRef(2, "Squats", "reps"),
         HabitRef(3, "Running", "miles"), HabitRef(4, "Meditate")],
        [TaskRef(1, "Vet appointment", datetime(2026, 3, 6, 9, 0)),
         TaskRef(2, "Call the dentist"), TaskRef(3, "Renew passport")],
        [GoalRef(1, "Read 12 books", "books"), GoalRef(2, "Save 2000 dollars", "dollars")],
    )
