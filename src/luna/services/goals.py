"""Goals: what a member is working towards, optionally measured from a baseline to a target."""

from __future__ import annotations

import builtins
import datetime as dt
import math
from functools import lru_cache
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Goal, Member
from luna.domain.goals import Timeframe, default_target_date, progress
from luna.domain.localday import zone
from luna.errors import InvalidInput, NotFound
from luna.services.access import (
    Actor,
    member_for_read,
    member_for_write,
    read_scope,
    require_household,
)
from luna.services.habits import member_today
from luna.services.matching import best_match
from luna.services.zones import member_tz, member_tz_map

GoalTimeframe = Literal["daily", "weekly", "monthly", "quarterly", "yearly", "long_term"]
GoalStatus = Literal["active", "completed", "paused", "abandoned"]
GoalCategory = Literal[
    "health", "fitness", "work", "financial", "learning", "relationships", "personal", "other"
]
_OPEN = ("active", "paused")


class GoalState(NamedTuple):
    """What progress changes on a goal, and so what an undo puts back."""

    current_value: float | None
    status: str
    description: str | None


class GoalOut(BaseModel):
    id: int
    member_id: int
    title: str
    description: str | None
    category: GoalCategory
    timeframe: GoalTimeframe
    status: GoalStatus
    unit: str | None
    baseline_value: float
    current_value: float | None
    target_value: float | None
    progress: int
    target_date: dt.date | None
    created_at: dt.datetime


def goal_progress(g: Goal) -> int:
    if g.target_value is None:
        # A goal with nothing to measure is all or nothing.
        return 100 if g.status == "completed" else 0
    return progress(g.current_value, g.target_value, g.baseline_value)


def goal_out(g: Goal, tz: str) -> GoalOut:
    return GoalOut(
        id=g.id, member_id=g.member_id, title=g.title, description=g.description,
        category=g.category, timeframe=g.timeframe, status=g.status,
        unit=g.unit, baseline_value=g.baseline_value, current_value=g.current_value,
        target_value=g.target_value, progress=goal_progress(g), target_date=g.target_date,
        created_at=g.created_at.astimezone(zone(tz)),
    )


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}")
    return str(value)


def _title(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidInput("a goal needs a title")
    if len(text) > 500:
        raise InvalidInput("a goal title is at most 500 characters")
    return text


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field} must be a number")
    return float(value)


def _check_future(day: dt.date | None, today: dt.date) -> None:
    if day is not None and day < today:
        raise InvalidInput(f"the target date {day.isoformat()} is already past")


def _check_measure(g: Goal) -> None:
    if g.target_value is not None and g.target_value == g.baseline_value:
        raise InvalidInput("the target is the same as the starting value")


def _complete_if_reached(g: Goal) -> None:
    if g.status in _OPEN and g.target_value is not None and goal_progress(g) == 100:
        g.status = "completed"


@lru_cache(maxsize=16)
def _list_query(by_member: bool, status: str | None) -> Select[Goal]:
    """Built once per filter combination, values bound: the briefing lists goals every time."""
    q = select(Goal).where((Goal.member_id if by_member else Goal.household_id)
                           == bindparam("scope"))
    if status == "open":
        q = q.where(Goal.status.in_(_OPEN))
    elif status is not None:
        q = q.where(Goal.status == bindparam("status"))
    return q.order_by(Goal.member_id, Goal.id)


class GoalService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(
        self,
        actor: Actor,
        *,
        title: str,
        member_id: int | None = None,
        description: str | None = None,
        category: GoalCategory = "personal",
        timeframe: GoalTimeframe = "monthly",
        unit: str | None = None,
        baseline_value: float | None = None,
        current_value: float | None = None,
        target_value: float | None = None,
        target_date: dt.date | None = None,
    ) -> GoalOut:
        now = self.clock.now()
        baseline = _number(baseline_value, "baseline_value") or 0.0
        target = _number(target_value, "target_value")
        current = _number(current_value, "current_value")
        g = Goal(
            title=_title(title), description=(description or "").strip() or None,
            category=_choice(category, get_args(GoalCategory), "category"),
            timeframe=_choice(timeframe, get_args(GoalTimeframe), "timeframe"),
            status="active", unit=(unit or "").strip() or None, baseline_value=baseline,
            # A measured goal starts where its baseline is, so progress reads 0 %, not unknown.
            current_value=current if current is not None or target is None else baseline,
            target_value=target, created_at=now, updated_at=now,
        )
        _check_measure(g)
        async with self.db.transaction() as s:
            m = await member_for_write(s, actor, member_id)
            today = await member_today(s, m, now)
            if target_date is None:
                target_date = default_target_date(Timeframe(g.timeframe), today)
            _check_future(target_date, today)
            g.target_date = target_date
            g.household_id, g.member_id = m.household_id, m.id
            _complete_if_reached(g)
            s.add(g)
            await s.flush()
            return goal_out(g, await member_tz(s, m))

    async def list(
        self,
        actor: Actor,
        *,
        member_id: int | None = None,
        status: GoalStatus | Literal["all", "open"] | None = None,
    ) -> list[GoalOut]:
        if status not in (None, "all", "open"):
            _choice(status, get_args(GoalStatus), "status")
        async with self.db.read() as s:
            by_member, scope = await read_scope(s, actor, member_id)
            q = _list_query(by_member, None if status == "all" else status)
            rows = list(await s.scalars(q, {"scope": scope, "status": status}))
            tzs = await member_tz_map(s, {g.member_id for g in rows})
            return [goal_out(g, tzs[g.member_id]) for g in rows]

    async def states(self, actor: Actor, member_id: int | None = None) -> dict[int, GoalState]:
        """Each of the member's goals as an undo would restore it, without the rest of it."""
        async with self.db.read() as s:
            m = await member_for_read(s, actor, member_id)
            rows = await s.execute(
                select(Goal.id, Goal.current_value, Goal.status, Goal.description)
                .where(Goal.member_id == m.id)
            )
            return {int(i): GoalState(v, str(st), d) for i, v, st, d in rows}

    async def get(self, actor: Actor, goal_id: int) -> GoalOut:
        async with self.db.read() as s:
            g, m = await self._load(s, actor, goal_id)
            return goal_out(g, await member_tz(s, m))

    async def update(self, actor: Actor, goal_id: int, changes: dict[str, Any]) -> GoalOut:
        """PATCH semantics: only the given fields change; a null clears only optional fields."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            g, m = await self._load(s, actor, goal_id, write=True)
            for key, value in changes.items():
                if key == "title":
                    g.title = _title(value)
                elif key == "description":
                    g.description = (value or "").strip() or None
                elif key == "unit":
                    g.unit = (value or "").strip() or None
                elif key in {"category", "timeframe", "status"}:
                    if value is None:
                        continue
                    options = {"category": GoalCategory, "timeframe": GoalTimeframe,
                               "status": GoalStatus}[key]
                    setattr(g, key, _choice(value, get_args(options), key))
                elif key == "baseline_value":
                    g.baseline_value = _number(value, key) or 0.0
                elif key in {"current_value", "target_value"}:
                    setattr(g, key, _number(value, key))
                elif key == "target_date":
                    _check_future(value, await member_today(s, m, now))
                    g.target_date = value
                else:
                    raise InvalidInput(f"unknown goal field {key!r}")
            _check_measure(g)
            if "status" not in changes or changes["status"] is None:
                _complete_if_reached(g)
            g.updated_at = now
            await s.flush()
            return goal_out(g, await member_tz(s, m))

    async def delete(self, actor: Actor, goal_id: int) -> None:
        async with self.db.transaction() as s:
            g, _ = await self._load(s, actor, goal_id, write=True)
            await s.delete(g)

    async def update_progress(
        self,
        actor: Actor,
        goal_id: int,
        value: float | None = None,
        delta: float | None = None,
        note: str | None = None,
    ) -> GoalOut:
        """Set (`value`) or add to (`delta`) a measured goal; reaching the target completes it."""
        if (value is None) == (delta is None):
            raise InvalidInput("give either the new value or the change (delta), not both")
        new_value = _number(value, "value")
        step = _number(delta, "delta")
        now = self.clock.now()
        async with self.db.transaction() as s:
            g, m = await self._load(s, actor, goal_id, write=True)
            if g.target_value is None:
                raise InvalidInput(
                    f"the goal {g.title!r} has no target to measure progress against; "
                    "set a target_value first, or mark it completed"
                )
            if new_value is None:
                assert step is not None
                new_value = (g.current_value if g.current_value is not None
                             else g.baseline_value) + step
            g.current_value = new_value
            if note and note.strip():
                # Goals have no journal table; a dated line in the description keeps the story.
                day = await member_today(s, m, now)
                line = f"{day.isoformat()}: {note.strip()}"
                g.description = f"{g.description}\n{line}" if g.description else line
            _complete_if_reached(g)
            g.updated_at = now
            await s.flush()
            return goal_out(g, await member_tz(s, m))

    async def find(self, actor: Actor, member_id: int | None, title: str) -> GoalOut:
        """The member's goal whose title best matches; open goals are preferred over closed."""
        target = member_id if member_id is not None else actor.member_id
        goals = await self.list(actor, member_id=target)
        open_goals: builtins.list[GoalOut] = [g for g in goals if g.status in _OPEN]
        try:
            return best_match(title, open_goals, lambda g: g.title, what="goal")
        except NotFound:
            return best_match(title, goals, lambda g: g.title, what="goal")

    async def _load(
        self, s: AsyncSession, actor: Actor, goal_id: int, *, write: bool = False
    ) -> tuple[Goal, Member]:
        g = await s.get(Goal, goal_id)
        if g is None:
            raise NotFound(f"goal {goal_id} not found")
        require_household(actor, g.household_id)
        m = await (member_for_write if write else member_for_read)(s, actor, g.member_id)
        return g, m
