"""What each page shows, gathered from the services (never from SQL) into plain view objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Literal

from luna.domain.localday import combine_local, local_now
from luna.errors import Forbidden
from luna.services.access import Actor
from luna.services.calendar import EventOut
from luna.services.chores import ChoreDetail, ChoreOut
from luna.services.container import Services
from luna.services.habits import HabitOut
from luna.services.members import MemberOut
from luna.services.tasks import PRIORITY_RANK, TaskOut

ChoreState = Literal["due", "overdue", "missed", "upcoming", "done", "skipped"]


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def day_streak(days_done: Iterable[date], today: date) -> int:
    """Days in a row with something done, ending today (or yesterday: today is not over yet)."""
    done = set(days_done)
    cursor = today if today in done else today - timedelta(days=1)
    streak = 0
    while cursor in done:
        streak += 1
        cursor -= timedelta(days=1)
    return streak


def sort_tasks(tasks: Iterable[TaskOut]) -> list[TaskOut]:
    """Overdue first, then by due time (undated last), then by priority."""

    def key(t: TaskOut) -> tuple[bool, bool, float, int, int]:
        return (not t.overdue, t.due_at is None, t.due_at.timestamp() if t.due_at else 0.0,
                PRIORITY_RANK.get(t.priority, 9), t.id)

    return sorted(tasks, key=key)


# --- overview ----------------------------------------------------------------------------------


@dataclass
class MemberToday:
    member: MemberOut
    today: date
    tasks: list[TaskOut]
    chores: list[ChoreOut]
    habits: list[HabitOut]
    events: list[EventOut]
    more_tasks: int = 0

    @property
    def empty(self) -> bool:
        return not (self.tasks or self.chores or self.habits or self.events)

    @property
    def overdue(self) -> list[ChoreOut | TaskOut]:
        return [*(c for c in self.chores if c.overdue), *(t for t in self.tasks if t.overdue)]

    @property
    def chores_today(self) -> list[ChoreOut]:
        return [c for c in self.chores if not c.overdue]

    @property
    def tasks_today(self) -> list[TaskOut]:
        return [t for t in self.tasks if not t.overdue]


async def overview(svc: Services, actor: Actor, members: Sequence[MemberOut]) -> list[MemberToday]:
    """Today for each member the caller may see (a child: only themselves), overdue first."""
    now = svc.clock.now()
    visible = [m for m in members if not actor.is_child or m.id == actor.member_id]
    out = []
    for m in visible:
        local = local_now(now, m.timezone)
        today = local.date()
        end_of_day = combine_local(today + timedelta(days=1), time(0), m.timezone)
        open_tasks = await svc.tasks.list(actor, member_id=m.id, status="open")
        todays = [t for t in open_tasks if t.overdue or (t.due_at and t.due_at < end_of_day)]
        chores = await svc.chores.list(actor, member_id=m.id, day=today)
        chores.sort(key=lambda c: (not c.overdue, c.due_time or "99:99", c.title))
        habits = [h for h in await svc.habits.list(actor, member_id=m.id) if h.due_today]
        habits.sort(key=lambda h: (h.logged_today, h.name))
        events = await svc.calendar.list(
            actor, combine_local(today, time(0), m.timezone), end_of_day, member_id=m.id
        )
        out.append(MemberToday(
            member=m, today=today, tasks=sort_tasks(todays), chores=chores, habits=habits,
            events=events, more_tasks=len(open_tasks) - len(todays),
        ))
    return out


# --- chore board -------------------------------------------------------------------------------


@dataclass
class BoardItem:
    chore: ChoreOut
    state: ChoreState
    completion_id: int | None = None
    points: int = 0
    can_act: bool = False
    can_undo: bool = False


@dataclass
class BoardRow:
    member: MemberOut | None
    cells: list[list[BoardItem]]
    points: int = 0
    completions: int = 0
    streak: int = 0


@dataclass
class Board:
    days: list[date]
    today: date
    rows: list[BoardRow]
    chores: list[ChoreOut] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.chores and not any(any(c) for r in self.rows for c in r.cells)


async def chore_board(svc: Services, actor: Actor, members: Sequence[MemberOut]) -> Board:
    """This week as a fridge chart: who has what on which day, what got done, points, streaks."""
    tz = await svc.calendar.household_tz(actor)
    now = svc.clock.now()
    today = local_now(now, tz).date()
    days = week_of(today)
    by_day = {d: await svc.chores.list(actor, day=d) for d in days}
    current = await svc.chores.list(actor)
    chores: dict[int, ChoreOut] = {c.id: c for c in current}
    for listed in by_day.values():
        chores.update({c.id: c for c in listed if c.id not in chores})
    details: list[ChoreDetail] = []
    for cid in sorted(chores):
        try:
            details.append(await svc.chores.get(actor, cid))
        except Forbidden:
            continue  # a child sees the chores they hold, not a sibling's history

    visible = [m for m in members if not actor.is_child or m.id == actor.member_id]
    row_of = {m.id: BoardRow(m, [[] for _ in days]) for m in visible}
    unassigned = BoardRow(None, [[] for _ in days])
    done_days: dict[int, set[date]] = defaultdict(set)

    def row(member_id: int | None) -> BoardRow | None:
        if member_id is None:
            return None if actor.is_child else unassigned
        return row_of.get(member_id)

    def may_act(c: ChoreOut) -> bool:
        return not actor.is_child or c.assignee_id == actor.member_id

    for d in days:
        for c in by_day[d]:
            state: ChoreState
            if d < today:
                state = "missed"
            elif d == today:
                state = "overdue" if c.overdue else "due"
            else:
                state = "upcoming"
            target = row(c.assignee_id)
            if target is not None:
                target.cells[d.weekday()].append(
                    BoardItem(c, state, points=c.points, can_act=state in ("due", "overdue")
                              and may_act(c))
                )
    for detail in details:
        live = [r for r in detail.completions if not r.undone]
        latest = live[0].id if live else None
        chore = chores[detail.id]
        for r in live:
            day = r.completed_at.astimezone(local_now(now, tz).tzinfo).date()
            if not r.skipped and r.completed_by is not None:
                done_days[r.completed_by].add(day)
            if day not in days:
                continue
            target = row(r.completed_by if r.completed_by is not None else detail.assignee_id)
            if target is None:
                continue
            target.cells[day.weekday()].append(BoardItem(
                chore, "skipped" if r.skipped else "done", completion_id=r.id,
                points=r.points_awarded, can_undo=r.id == latest and (
                    not actor.is_child or r.completed_by == actor.member_id),
            ))

    for p in await svc.chores.points(actor, days=7):
        if p.member_id in row_of:
            row_of[p.member_id].points = p.points
            row_of[p.member_id].completions = p.completions
    for mid, board_row in row_of.items():
        board_row.streak = day_streak(done_days.get(mid, ()), today)
    rows = list(row_of.values())
    if any(any(cell) for cell in unassigned.cells):
        rows.append(unassigned)
    return Board(days=days, today=today, rows=rows, chores=sorted(
        chores.values(), key=lambda c: c.title.lower()))
