"""Family chores: schedules, whose turn it is, completions with undo, and the points board.

Chores belong to the household, so "today" and "overdue" are read on the household's clock.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Chore, ChoreCompletion, Member
from luna.domain import recurrence
from luna.domain.habits import WEEKDAY_NAMES
from luna.domain.localday import local_now, parse_hhmm
from luna.domain.rotation import AssignmentMode, fairest, next_assignee
from luna.errors import Conflict, Forbidden, InvalidInput, NotFound
from luna.services.access import Actor, load_member, member_for_read, require_household
from luna.services.matching import best_match
from luna.services.zones import household_tz

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ScheduleKindName = Literal["once", "weekly", "every_n_days"]
Mode = Literal["fixed", "rotation", "fairest"]

EFFORT_WINDOW = timedelta(days=28)
"""Fairness looks at recent effort: all-time counts would bury newcomers (grocy's weakness)."""
HISTORY_LIMIT = 20
_NOT_NULL = frozenset({"title", "points", "active", "schedule", "assignment_mode"})


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ScheduleKindName = "weekly"
    date: dt.date | None = Field(
        default=None, description="The day of a one-off chore, or the first day of a recurring one"
    )
    weekdays: list[Weekday] = Field(default_factory=list)
    interval_days: int | None = Field(default=None, ge=1)
    from_completion: bool = False


class ScheduleOut(ScheduleIn):
    rrule: str | None = None


class CompletionBrief(BaseModel):
    id: int
    completed_by: int | None
    completed_at: datetime
    due_date: date | None
    skipped: bool
    points_awarded: int
    undone: bool


class ChoreOut(BaseModel):
    id: int
    title: str
    notes: str | None
    points: int
    assignee_id: int | None
    assignee_name: str | None
    assignment_mode: Mode
    rotation_member_ids: list[int]
    schedule: ScheduleOut
    due_time: str | None
    next_due: date | None
    overdue: bool
    active: bool


class ChoreDetail(ChoreOut):
    completions: list[CompletionBrief]


class ChoreCompletionOut(BaseModel):
    id: int
    chore_id: int
    completed_by: int | None
    completed_at: datetime
    due_date: date | None
    skipped: bool
    points_awarded: int
    next_due: date | None
    next_assignee_id: int | None


class ChoreName(NamedTuple):
    """A chore as words name it: enough to match what was said, without its schedule."""

    id: int
    title: str
    assignee_name: str | None


class ChoreSuggestion(BaseModel):
    chore_id: int
    title: str
    suggested_member_id: int
    suggested_member_name: str
    reason: str


class MemberPoints(BaseModel):
    member_id: int
    name: str
    points: int
    completions: int


# -- pure helpers -------------------------------------------------------------------------------


def domain_schedule(spec: ScheduleIn, today: date) -> recurrence.ChoreSchedule:
    try:
        return recurrence.ChoreSchedule(
            kind=recurrence.ScheduleKind(spec.kind),
            start=spec.date or today,
            weekdays=tuple(WEEKDAY_NAMES.index(d) for d in spec.weekdays),
            interval_days=spec.interval_days,
            from_completion=spec.from_completion,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _row_schedule(c: Chore) -> recurrence.ChoreSchedule:
    return recurrence.ChoreSchedule(
        kind=recurrence.ScheduleKind(c.schedule_kind), start=c.start_date,
        weekdays=tuple(c.weekdays or ()), interval_days=c.interval_days,
        from_completion=c.from_completion,
    )


def upcoming_due(schedule: recurrence.ChoreSchedule, today: date) -> date:
    """The first due date not before today: a recurring chore started in the past is not born
    overdue, and keeps its calendar anchor."""
    first = recurrence.first_due(schedule)
    if first >= today:
        return first
    if schedule.kind is recurrence.ScheduleKind.ONCE:
        raise InvalidInput(f"{first.isoformat()} has already passed")
    horizon = today + timedelta(days=max(7, schedule.interval_days or 0))
    return recurrence.occurrences(schedule, first, today, horizon)[0]


def _hhmm(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_hhmm(value).strftime("%H:%M")
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _schedule_in(value: Any) -> ScheduleIn:
    if isinstance(value, ScheduleIn):
        return value
    try:
        return ScheduleIn.model_validate(value)
    except ValidationError as exc:
        raise InvalidInput(f"invalid schedule: {exc.errors()[0]['msg']}") from exc


def _points(value: int) -> int:
    if value < 0:
        raise InvalidInput("points cannot be negative")
    return value


def _mode(value: str) -> AssignmentMode:
    try:
        return AssignmentMode(value)
    except ValueError as exc:
        raise InvalidInput(f"unknown assignment mode {value!r}") from exc


def _is_overdue(c: Chore, now_local: datetime) -> bool:
    due_time = parse_hhmm(c.due_time) if c.due_time else None
    return c.active and recurrence.is_overdue(c.next_due, due_time, now_local)


def chore_out(c: Chore, names: Mapping[int, str], now_local: datetime) -> ChoreOut:
    schedule = _row_schedule(c)
    return ChoreOut(
        id=c.id, title=c.title, notes=c.notes, points=c.points, assignee_id=c.assignee_id,
        assignee_name=names.get(c.assignee_id) if c.assignee_id is not None else None,
        assignment_mode=c.assignment_mode,
        rotation_member_ids=list(c.rotation_member_ids or []),
        schedule=ScheduleOut(
            kind=c.schedule_kind,
            date=c.start_date,
            weekdays=[WEEKDAY_NAMES[d] for d in c.weekdays or []],
            interval_days=c.interval_days, from_completion=c.from_completion,
            rrule=recurrence.to_rrule(schedule),
        ),
        due_time=c.due_time, next_due=c.next_due, overdue=_is_overdue(c, now_local),
        active=c.active,
    )


def _sort_key(c: ChoreOut) -> tuple[bool, date, str, int]:
    return (c.next_due is None, c.next_due or date.max, c.due_time or "99:99", c.id)


def _due_on(c: Chore, day: date, today: date) -> bool:
    if c.next_due is None:
        return False
    if day == today:
        return c.next_due <= today  # today's list carries what is overdue
    if day < today:
        return c.next_due == day
    return bool(recurrence.occurrences(_row_schedule(c), c.next_due, day, day))


# -- queries ------------------------------------------------------------------------------------


def _household_id(actor: Actor) -> int:
    if actor.household_id is None:
        raise InvalidInput("use a member of the household")
    return actor.household_id


_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


async def _visible(
    s: AsyncSession, actor: Actor, member_id: int | None, q: _Q
) -> tuple[_Q, dict[str, int]]:
    """`q` (a statement built once) narrowed to the household's active chores that `actor` may
    see, one member's when asked (a child's token sees only the child's own), and the values
    to run it with: bound parameters, so the narrowed statement is built once too."""
    params = {"hid": _household_id(actor)}
    by_assignee = member_id is not None or actor.is_child
    if by_assignee:
        params["assignee"] = (await member_for_read(s, actor, member_id)).id
    return _narrowed(q, by_assignee), params


@lru_cache(maxsize=16)
def _narrowed(q: Any, by_assignee: bool) -> Any:
    q = q.where(Chore.household_id == bindparam("hid"), Chore.active.is_(True))
    return q.where(Chore.assignee_id == bindparam("assignee")) if by_assignee else q


_CHORES = select(Chore)
_CHORE_NAMES = (
    select(Chore.id, Chore.title, Member.name)
    .outerjoin(Member, Member.id == Chore.assignee_id)
    .where(Chore.next_due.is_not(None)).order_by(Chore.next_due, Chore.id)
)
_NAMES = select(Member.id, Member.name).where(Member.household_id == bindparam("hid"))


async def _household(s: AsyncSession, hid: int) -> tuple[str, dict[int, str]]:
    tz = await household_tz(s, hid)
    rows = await s.execute(_NAMES, {"hid": hid})
    return tz, {row[0]: row[1] for row in rows}


async def _recent_effort(s: AsyncSession, hid: int, now: datetime) -> dict[int, float]:
    rows = await s.execute(
        select(ChoreCompletion.completed_by, func.sum(ChoreCompletion.points_awarded))
        .where(
            ChoreCompletion.household_id == hid, ChoreCompletion.undone_at.is_(None),
            ChoreCompletion.completed_by.is_not(None),
            ChoreCompletion.completed_at >= now - EFFORT_WINDOW,
        )
        .group_by(ChoreCompletion.completed_by)
    )
    return {mid: float(total or 0) for mid, total in rows if mid is not None}


async def _last_done(
    s: AsyncSession, chore_ids: Sequence[int]
) -> dict[int, dict[int, datetime | None]]:
    """Per chore, when each member last really did it (skips and undone runs don't count)."""
    out: dict[int, dict[int, datetime | None]] = defaultdict(dict)
    if not chore_ids:
        return out
    rows = await s.execute(
        select(
            ChoreCompletion.chore_id, ChoreCompletion.completed_by,
            func.max(ChoreCompletion.completed_at),
        )
        .where(
            ChoreCompletion.chore_id.in_(chore_ids), ChoreCompletion.undone_at.is_(None),
            ChoreCompletion.skipped.is_(False), ChoreCompletion.completed_by.is_not(None),
        )
        .group_by(ChoreCompletion.chore_id, ChoreCompletion.completed_by)
    )
    for chore_id, member_id, at in rows:
        if member_id is not None:
            out[chore_id][member_id] = at
    return out


async def _household_member(s: AsyncSession, actor: Actor, hid: int, member_id: int) -> Member:
    m = await load_member(s, actor, member_id)
    if m.household_id != hid:  # the admin passes require_household, but not across households
        raise NotFound(f"member {member_id} not found")
    return m


class ChoreService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def _today(self, tz: str) -> tuple[date, datetime]:
        now_local = local_now(self.clock.now(), tz)
        return now_local.date(), now_local

    async def create(
        self,
        actor: Actor,
        *,
        title: str,
        schedule: ScheduleIn,
        assignee_id: int | None = None,
        assignment_mode: Mode = "fixed",
        rotation_member_ids: Sequence[int] = (),
        due_time: str | None = None,
        points: int = 1,
        notes: str | None = None,
    ) -> ChoreOut:
        if not title.strip():
            raise InvalidInput("a chore needs a title")
        hid = _household_id(actor)
        order = list(dict.fromkeys(rotation_member_ids))
        async with self.db.transaction() as s:
            tz, names = await _household(s, hid)
            # Another household's member is NotFound before anything is Forbidden.
            for mid in [*order, *([assignee_id] if assignee_id is not None else [])]:
                await _household_member(s, actor, hid, mid)
            if actor.is_child:
                if assignee_id not in (None, actor.member_id) or any(
                    m != actor.member_id for m in order
                ):
                    raise Forbidden("a child can only create chores for themselves")
                if not order and assignment_mode != "fixed" and actor.member_id is not None:
                    order = [actor.member_id]  # else "fairest" would pool the whole family
                if assignee_id is None and not order:
                    assignee_id = actor.member_id
            today, now_local = self._today(tz)
            sched = domain_schedule(schedule, today)
            next_due = upcoming_due(sched, today)
            mode = _mode(assignment_mode)
            assignee, order = await self._assignment(
                s, actor, hid, mode, assignee_id, order, explicit=assignee_id is not None,
                names=names,
            )
            c = Chore(
                household_id=hid, title=title.strip(), notes=notes, points=_points(points),
                schedule_kind=sched.kind.value, start_date=sched.start,
                weekdays=list(sched.weekdays), interval_days=sched.interval_days,
                from_completion=sched.from_completion, due_time=_hhmm(due_time),
                assignment_mode=mode.value, assignee_id=assignee, rotation_member_ids=order,
                next_due=next_due, active=True, created_by=actor.member_id,
            )
            s.add(c)
            await s.flush()
            return chore_out(c, names, now_local)

    async def _assignment(
        self,
        s: AsyncSession,
        actor: Actor,
        hid: int,
        mode: AssignmentMode,
        assignee_id: int | None,
        order: list[int],
        *,
        explicit: bool,
        names: Mapping[int, str],
    ) -> tuple[int | None, list[int]]:
        """Check who may hold the chore and pick its first holder for the mode."""
        order = list(dict.fromkeys(order))
        for mid in [*order, *([assignee_id] if assignee_id is not None else [])]:
            await _household_member(s, actor, hid, mid)
        if mode is AssignmentMode.FIXED:
            return assignee_id, order
        if mode is AssignmentMode.ROTATION and not order:
            raise InvalidInput("a rotation needs at least one member")
        if not order:
            order = sorted(names)  # "fairest" with nobody named shares among the whole family
        if assignee_id in order:
            return assignee_id, order
        if explicit:
            raise InvalidInput("the assignee must be one of the rotation's members")
        if mode is AssignmentMode.ROTATION:
            return order[0], order
        effort = await _recent_effort(s, hid, self.clock.now())
        return fairest(order, effort, {}), order

    async def overdue(self, actor: Actor, member_id: int | None = None) -> list[ChoreOut]:
        return [c for c in await self.list(actor, member_id=member_id) if c.overdue]

    async def find(self, actor: Actor, title: str) -> ChoreOut:
        """The household's active chore whose title best matches what was said."""
        return best_match(title, await self.list(actor), lambda c: c.title, what="chore")

    async def find_id(self, actor: Actor, title: str) -> int:
        """find()'s chore, matched on names alone: a tool about to change it needs only its id."""
        return best_match(title, await self.names(actor), lambda c: c.title, what="chore").id

    async def names(self, actor: Actor) -> list[ChoreName]:
        """The chores list() shows, by title and assignee, without reading their schedules."""
        async with self.db.read() as s:
            q, params = await _visible(s, actor, None, _CHORE_NAMES)
            return [ChoreName(int(i), str(t), n) for i, t, n in await s.execute(q, params)]

    async def get(self, actor: Actor, chore_id: int) -> ChoreDetail:
        async with self.db.read() as s:
            c = await self._load(s, actor, chore_id)
            if actor.is_child and actor.member_id not in (
                c.assignee_id, *(c.rotation_member_ids or [])
            ):
                raise Forbidden("a child can only see their own chores")
            tz, names = await _household(s, c.household_id)
            _, now_local = self._today(tz)
            history = await s.scalars(
                select(ChoreCompletion)
                .where(ChoreCompletion.chore_id == c.id)
                .order_by(ChoreCompletion.id.desc())
                .limit(HISTORY_LIMIT)
            )
            zi = now_local.tzinfo
            return ChoreDetail(
                **chore_out(c, names, now_local).model_dump(),
                completions=[
                    CompletionBrief(
                        id=r.id, completed_by=r.completed_by,
                        completed_at=r.completed_at.astimezone(zi), due_date=r.due_date,
                        skipped=r.skipped, points_awarded=r.points_awarded,
                        undone=r.undone_at is not None,
                    )
                    for r in history
                ],
            )

    async def update(self, actor: Actor, chore_id: int, changes: Mapping[str, Any]) -> ChoreOut:
        async with self.db.transaction() as s:
            c = await self._load(s, actor, chore_id)
            if actor.is_child:
                raise Forbidden("a child cannot change chores")
            tz, names = await _household(s, c.household_id)
            today, now_local = self._today(tz)
            mode, assignee = c.assignment_mode, c.assignee_id
            order = list(c.rotation_member_ids or [])
            touched, explicit = False, False
            for key, value in changes.items():
                if value is None and key in _NOT_NULL:
                    raise InvalidInput(f"{key} cannot be empty")
                if key == "title":
                    if not str(value or "").strip():
                        raise InvalidInput("a chore needs a title")
                    c.title = str(value).strip()
                elif key == "notes":
                    c.notes = value
                elif key == "points":
                    c.points = _points(int(value))
                elif key == "due_time":
                    c.due_time = _hhmm(value)
                elif key == "active":
                    c.active = bool(value)
                elif key == "schedule":
                    self._apply_schedule(c, domain_schedule(_schedule_in(value), today), today)
                elif key == "assignee_id":
                    assignee, touched, explicit = value, True, value is not None
                elif key == "assignment_mode":
                    mode, touched = value, True
                elif key == "rotation_member_ids":
                    order, touched = list(value or []), True
                else:
                    raise InvalidInput(f"unknown chore field {key!r}")
            if touched:
                m = _mode(mode)
                c.assignee_id, c.rotation_member_ids = await self._assignment(
                    s, actor, c.household_id, m, assignee, order, explicit=explicit, names=names
                )
                c.assignment_mode = m.value
            await s.flush()
            return chore_out(c, names, now_local)

    @staticmethod
    def _apply_schedule(c: Chore, sched: recurrence.ChoreSchedule, today: date) -> None:
        c.next_due = upcoming_due(sched, today)
        c.schedule_kind = sched.kind.value
        c.start_date = sched.start
        c.weekdays = list(sched.weekdays)
        c.interval_days = sched.interval_days
        c.from_completion = sched.from_completion

    async def complete(
        self, actor: Actor, chore_id: int, completed_by: int | None = None
    ) -> ChoreCompletionOut:
        return await self._record(actor, chore_id, completed_by, skipped=False)

    async def skip(self, actor: Actor, chore_id: int) -> ChoreCompletionOut:
        return await self._record(actor, chore_id, None, skipped=True)

    async def _record(
        self, actor: Actor, chore_id: int, completed_by: int | None, *, skipped: bool
    ) -> ChoreCompletionOut:
        now = self.clock.now()
        async with self.db.transaction() as s:
            c = await self._load(s, actor, chore_id)
            if not c.active:
                raise Conflict(f"the chore {c.title!r} is no longer active")
            if c.next_due is None:
                raise Conflict(f"the one-off chore {c.title!r} is already done")
            doer = completed_by if completed_by is not None else (
                actor.member_id if actor.member_id is not None else c.assignee_id
            )
            if actor.is_child:
                if c.assignee_id != actor.member_id:
                    raise Forbidden("a child can only complete their own chores")
                if doer != actor.member_id:
                    raise Forbidden("a child can only take credit for themselves")
            if doer is not None:
                await _household_member(s, actor, c.household_id, doer)
            tz = await household_tz(s, c.household_id)
            today, _ = self._today(tz)
            due = c.next_due
            row = ChoreCompletion(
                chore_id=c.id, household_id=c.household_id, completed_by=doer, completed_at=now,
                due_date=due, skipped=skipped, points_awarded=0 if skipped else c.points,
                previous_next_due=due, previous_assignee_id=c.assignee_id,
            )
            s.add(row)
            await s.flush()
            c.next_due = recurrence.next_due_after(_row_schedule(c), due, today)
            # A finished one-off keeps whoever did it; a recurring chore moves on, skipped or not.
            if c.next_due is not None:
                mode = AssignmentMode(c.assignment_mode)
                # Only "fairest" weighs who did what lately; the other modes never read it.
                fair = mode is AssignmentMode.FAIREST
                effort = await _recent_effort(s, c.household_id, now) if fair else {}
                last = (await _last_done(s, [c.id])).get(c.id, {}) if fair else {}
                c.assignee_id = next_assignee(
                    mode, c.assignee_id, list(c.rotation_member_ids or []), effort, last,
                )
            await s.flush()
            return ChoreCompletionOut(
                id=row.id, chore_id=c.id, completed_by=doer,
                completed_at=now.astimezone(local_now(now, tz).tzinfo), due_date=due,
                skipped=skipped, points_awarded=row.points_awarded, next_due=c.next_due,
                next_assignee_id=c.assignee_id,
            )

    async def undo(self, actor: Actor, completion_id: int) -> ChoreOut:
        async with self.db.transaction() as s:
            row = await s.get(ChoreCompletion, completion_id)
            if row is None:
                raise NotFound(f"chore completion {completion_id} not found")
            require_household(actor, row.household_id)
            if actor.is_child and row.completed_by != actor.member_id:
                raise Forbidden("a child can only undo their own completions")
            if row.undone_at is not None:
                raise Conflict("that completion was already undone")
            latest = await s.scalar(
                select(func.max(ChoreCompletion.id)).where(
                    ChoreCompletion.chore_id == row.chore_id, ChoreCompletion.undone_at.is_(None)
                )
            )
            # Undoing an older run would restore a state that later runs already moved past.
            if latest != row.id:
                raise Conflict("only the latest completion of a chore can be undone")
            c = await s.get(Chore, row.chore_id)
            assert c is not None
            row.undone_at = self.clock.now()
            c.next_due = row.previous_next_due
            c.assignee_id = row.previous_assignee_id
            await s.flush()
            tz, names = await _household(s, c.household_id)
            return chore_out(c, names, self._today(tz)[1])

    async def reschedule(self, actor: Actor, chore_id: int, day: date) -> ChoreOut:
        async with self.db.transaction() as s:
            c = await self._load(s, actor, chore_id)
            if actor.is_child:
                raise Forbidden("a child cannot reschedule chores")
            if not c.active:
                raise Conflict(f"the chore {c.title!r} is no longer active")
            tz, names = await _household(s, c.household_id)
            today, now_local = self._today(tz)
            if day < today:
                raise InvalidInput(f"{day.isoformat()} has already passed; pick today or later")
            c.next_due = day
            await s.flush()
            return chore_out(c, names, now_local)

    async def delegate(self, actor: Actor, chore_id: int, to_member_id: int) -> ChoreOut:
        async with self.db.transaction() as s:
            c = await self._load(s, actor, chore_id)
            if actor.is_child:
                raise Forbidden("a child cannot hand chores to others")
            if not c.active:
                raise Conflict(f"the chore {c.title!r} is no longer active")
            await _household_member(s, actor, c.household_id, to_member_id)
            c.assignee_id = to_member_id
            await s.flush()
            tz, names = await _household(s, c.household_id)
            return chore_out(c, names, self._today(tz)[1])

    async def suggest(self, actor: Actor) -> list[ChoreSuggestion]:
        """Who should take each unassigned or shared chore: least recent effort plus open load."""
        if actor.is_child:
            raise Forbidden("chore suggestions are for the grown-ups")
        hid = _household_id(actor)
        now = self.clock.now()
        async with self.db.read() as s:
            _, names = await _household(s, hid)
            chores = list(
                await s.scalars(
                    select(Chore)
                    .where(Chore.household_id == hid, Chore.active.is_(True),
                           Chore.next_due.is_not(None))
                    .order_by(Chore.next_due, Chore.id)
                )
            )
            effort = await _recent_effort(s, hid, now)
            open_points: dict[int, int] = defaultdict(int)
            open_count: dict[int, int] = defaultdict(int)
            for c in chores:
                if c.assignee_id is not None:
                    open_points[c.assignee_id] += c.points
                    open_count[c.assignee_id] += 1
            shared = [c for c in chores
                      if c.assignee_id is None or c.assignment_mode != AssignmentMode.FIXED]
            last = await _last_done(s, [c.id for c in shared])
        out: list[ChoreSuggestion] = []
        for c in shared:
            pool = [m for m in (c.rotation_member_ids or sorted(names)) if m in names]

            def others(m: int, c: Chore = c) -> tuple[int, int]:
                # The chore being placed is not yet part of anyone's load.
                mine = m == c.assignee_id
                return open_points[m] - (c.points if mine else 0), open_count[m] - int(mine)

            score = {m: effort.get(m, 0.0) + others(m)[0] for m in pool}
            pick = fairest(pool, score, last.get(c.id, {}))
            if pick is None:
                continue
            done, (_, load) = int(effort.get(pick, 0)), others(pick)
            out.append(ChoreSuggestion(
                chore_id=c.id, title=c.title, suggested_member_id=pick,
                suggested_member_name=names[pick],
                reason=(f"{names[pick]} has {done} chore point{'s' * (done != 1)} in the last "
                        f"4 weeks and {load} other open chore{'s' * (load != 1)}"),
            ))
        return out

    async def points(self, actor: Actor, days: int = 7) -> list[MemberPoints]:
        if days < 1:
            raise InvalidInput("days must be at least 1")
        hid = _household_id(actor)
        since = self.clock.now() - timedelta(days=days)
        async with self.db.read() as s:
            _, names = await _household(s, hid)
            rows = await s.execute(
                select(
                    ChoreCompletion.completed_by, func.sum(ChoreCompletion.points_awarded),
                    func.count(ChoreCompletion.id),
                )
                .where(
                    ChoreCompletion.household_id == hid, ChoreCompletion.undone_at.is_(None),
                    ChoreCompletion.skipped.is_(False), ChoreCompletion.completed_at >= since,
                )
                .group_by(ChoreCompletion.completed_by)
            )
            totals = {mid: (int(p or 0), int(n)) for mid, p, n in rows}
        board = [
            MemberPoints(member_id=mid, name=name, points=totals.get(mid, (0, 0))[0],
                         completions=totals.get(mid, (0, 0))[1])
            for mid, name in names.items()
        ]
        return sorted(board, key=lambda b: (-b.points, b.name, b.member_id))

    async def _load(self, s: AsyncSession, actor: Actor, chore_id: int) -> Chore:
        c = await s.get(Chore, chore_id)
        if c is None:
            raise NotFound(f"chore {chore_id} not found")
        require_household(actor, c.household_id)
        return c

    async def list(
        self, actor: Actor, *, day: date | None = None, member_id: int | None = None
    ) -> list[ChoreOut]:
        async with self.db.read() as s:
            tz, names = await _household(s, _household_id(actor))
            today, now_local = self._today(tz)
            q, params = await _visible(s, actor, member_id, _CHORES)
            rows = list(await s.scalars(q, params))
            if day is None:
                rows = [c for c in rows if c.next_due is not None]
            else:
                rows = [c for c in rows if _due_on(c, day, today)]
            return sorted((chore_out(c, names, now_local) for c in rows), key=_sort_key)

    async def on_days(
        self, actor: Actor, days: Sequence[date], *, member_id: int | None = None
    ) -> dict[date, builtins.list[ChoreOut]]:
        """What `list(day=...)` gives for each of `days`, from one read (a week's schedule)."""
        async with self.db.read() as s:
            tz, names = await _household(s, _household_id(actor))
            today, now_local = self._today(tz)
            q, params = await _visible(s, actor, member_id, _CHORES)
            rows = list(await s.scalars(q, params))
            return {
                day: sorted((chore_out(c, names, now_local) for c in rows
                             if _due_on(c, day, today)), key=_sort_key)
                for day in days
            }
