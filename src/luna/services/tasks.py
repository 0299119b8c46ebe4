"""Tasks: a member's to-dos with priority, category and an optional due time."""

from __future__ import annotations

import builtins
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection, Select, Table, bindparam, case, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Member, Task
from luna.db.schedule_tracking import mark_for_planning
from luna.errors import Forbidden, InvalidInput, NotFound
from luna.services.access import (
    Actor,
    member_for_read,
    member_for_write,
    member_zone_for_write,
    read_scope,
    require_household,
)
from luna.services.matching import best_match
from luna.services.zones import member_tz, member_tz_map

Priority = Literal["low", "medium", "high", "urgent"]
Category = Literal["work", "personal", "health", "learning", "relationships", "other"]
Status = Literal["pending", "in_progress", "completed", "cancelled"]
OPEN_STATUSES = ("pending", "in_progress")
PRIORITY_RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


class TaskOut(BaseModel):
    id: int
    member_id: int
    title: str
    notes: str | None
    priority: Priority
    category: Category
    status: Status
    due_at: datetime | None
    completed_at: datetime | None
    overdue: bool
    critical: bool = False
    source_channel: str | None
    created_at: datetime


def task_out(t: Task, tz: str, now: datetime) -> TaskOut:
    zi = ZoneInfo(tz)
    return TaskOut(
        id=t.id, member_id=t.member_id, title=t.title, notes=t.notes,
        priority=t.priority,
        category=t.category,
        status=t.status,
        due_at=t.due_at.astimezone(zi) if t.due_at else None,
        completed_at=t.completed_at.astimezone(zi) if t.completed_at else None,
        overdue=is_overdue(t, now),
        critical=bool(t.critical),
        source_channel=t.source_channel,
        created_at=t.created_at.astimezone(zi),
    )


def is_overdue(t: Task, now: datetime) -> bool:
    return t.status in OPEN_STATUSES and t.due_at is not None and t.due_at < now


_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")
_TASKS: Table = Task.__table__  # type: ignore[assignment]
_INSERT_TASK = insert(_TASKS).returning(_TASKS.c.id)


async def _scoped(s: AsyncSession, actor: Actor, member_id: int | None, q: _Q) -> _Q:
    """`q` narrowed to one member's tasks, or the household's when no member is named."""
    by_member, scope = await read_scope(s, actor, member_id)
    return q.where((Task.member_id if by_member else Task.household_id) == scope)


@lru_cache(maxsize=64)
def _list_query(
    by_member: bool, status: str | None, priority: bool, overdue: bool, after: bool, before: bool,
) -> Select[Task]:
    """The task list's statement for one combination of filters, built once: its values are
    bound parameters, so a list (every briefing reads one) skips building the statement and
    its cache key each time."""
    q = select(Task).where(
        (Task.member_id if by_member else Task.household_id) == bindparam("scope")
    )
    if status == "open":
        q = q.where(Task.status.in_(OPEN_STATUSES))
    elif status is not None:
        q = q.where(Task.status == bindparam("status"))
    if priority:
        q = q.where(Task.priority == bindparam("priority"))
    if overdue:
        q = q.where(Task.status.in_(OPEN_STATUSES), Task.due_at < bindparam("now"))
    if after:
        q = q.where(Task.due_at >= bindparam("due_after"))
    if before:
        q = q.where(Task.due_at < bindparam("due_before"))
    return q.order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(bindparam("limit"))


@lru_cache(maxsize=2)
def _next_up_queries(by_member: bool) -> tuple[Select[Task], ...]:
    """next_up's three picks, built once with bound values (every "what next?" runs them)."""
    rank = case(PRIORITY_RANK, value=Task.priority)
    base = select(Task).where(
        (Task.member_id if by_member else Task.household_id) == bindparam("scope"),
        Task.status.in_(OPEN_STATUSES),
    )
    return (
        base.where(Task.due_at < bindparam("now"), Task.priority.in_(("urgent", "high")))
        .order_by(rank, Task.due_at, Task.id).limit(1),
        base.where(Task.due_at.is_not(None)).order_by(Task.due_at, Task.id).limit(1),
        base.where(Task.due_at.is_(None)).order_by(rank, Task.id).limit(1),
    )


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{field} needs a UTC offset, e.g. 2026-03-05T17:00:00-05:00")
    return value


def _create_task(
    conn: Connection, actor: Actor, member_id: int | None, values: dict[str, Any],
    now: datetime,
) -> TaskOut:
    m = member_zone_for_write(conn, actor, member_id)
    row = {**values, "household_id": m.household_id, "member_id": m.id, "created_at": now,
           "updated_at": now}
    new_id = int(conn.execute(_INSERT_TASK, row).scalar_one())
    mark_for_planning(conn, m.id)
    return task_out(Task(id=new_id, completed_at=None, **row), m.tz, now)


class TaskService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(
        self,
        actor: Actor,
        *,
        title: str,
        member_id: int | None = None,
        notes: str | None = None,
        priority: Priority = "medium",
        category: Category = "other",
        due_at: datetime | None = None,
        source_channel: str | None = None,
        critical: bool = False,
    ) -> TaskOut:
        if not title.strip():
            raise InvalidInput("a task needs a title")
        _aware(due_at, "due_at")
        values: dict[str, Any] = {
            "title": title.strip(), "notes": notes, "priority": priority, "category": category,
            "due_at": due_at, "status": "pending", "source_channel": source_channel,
            "critical": critical,
        }
        # Adding a to-do is among the commonest things a text does: plain statements in one
        # piece, not a unit-of-work flush (which also marked the member's schedule).
        return await self.db.run_write(_create_task, actor, member_id, values, self.clock.now())

    async def list(
        self,
        actor: Actor,
        *,
        member_id: int | None = None,
        status: Status | Literal["open"] | None = None,
        priority: Priority | None = None,
        overdue: bool | None = None,
        due_after: datetime | None = None,
        due_before: datetime | None = None,
        limit: int = 200,
    ) -> list[TaskOut]:
        _aware(due_after, "due_after")
        _aware(due_before, "due_before")
        now = self.clock.now()
        async with self.db.read() as s:
            by_member, scope = await read_scope(s, actor, member_id)
            q = _list_query(by_member, status, priority is not None, overdue is True,
                            due_after is not None, due_before is not None)
            rows = list(await s.scalars(q, {
                "scope": scope, "status": status, "priority": priority, "now": now,
                "due_after": due_after, "due_before": due_before, "limit": limit,
            }))
            tzs = await member_tz_map(s, {t.member_id for t in rows})
            out = [task_out(t, tzs[t.member_id], now) for t in rows]
            if overdue is False:
                out = [t for t in out if not t.overdue]
            return out

    async def open_states(
        self, actor: Actor, member_id: int | None = None
    ) -> dict[int, tuple[str, datetime | None]]:
        """Each open task's status and due time (UTC), without the rest of the task: what an
        undo needs to put back, read before every task write."""
        async with self.db.read() as s:
            q = await _scoped(s, actor, member_id, select(Task.id, Task.status, Task.due_at))
            rows = await s.execute(q.where(Task.status.in_(OPEN_STATUSES)))
            return {int(i): (str(status), due) for i, status, due in rows}

    async def get(self, actor: Actor, task_id: int) -> TaskOut:
        async with self.db.read() as s:
            t, m = await self._load(s, actor, task_id)
            return task_out(t, await member_tz(s, m), self.clock.now())

    async def update(self, actor: Actor, task_id: int, changes: dict[str, Any]) -> TaskOut:
        now = self.clock.now()
        async with self.db.transaction() as s:
            t, m = await self._load(s, actor, task_id, write=True)
            for key, value in changes.items():
                if key == "member_id":
                    if actor.is_child and value != actor.member_id:
                        raise Forbidden("a child cannot reassign tasks")
                    target = await member_for_write(s, actor, value)
                    t.member_id = target.id
                    m = target
                elif key == "due_at":
                    t.due_at = _aware(value, "due_at")
                elif key == "status":
                    t.status = value
                    t.completed_at = now if value == "completed" else None
                elif key == "title":
                    if not str(value).strip():
                        raise InvalidInput("a task needs a title")
                    t.title = str(value).strip()
                elif key in {"notes", "priority", "category", "critical"}:
                    setattr(t, key, value)
                else:
                    raise InvalidInput(f"unknown task field {key!r}")
            await s.flush()
            return task_out(t, await member_tz(s, m), now)

    async def delete(self, actor: Actor, task_id: int) -> None:
        async with self.db.transaction() as s:
            t, _ = await self._load(s, actor, task_id, write=True)
            await s.delete(t)

    async def complete(self, actor: Actor, task_id: int) -> TaskOut:
        return await self.update(actor, task_id, {"status": "completed"})

    async def reschedule(self, actor: Actor, task_id: int, due_at: datetime) -> TaskOut:
        return await self.update(actor, task_id, {"due_at": due_at})

    async def find_open(self, actor: Actor, member_id: int | None, title: str) -> TaskOut:
        """The member's open task whose title best matches what was said."""
        async with self.db.read() as s:
            q = await _scoped(s, actor, member_id, select(Task.id, Task.member_id, Task.title))
            # Titles alone are compared; only the task that was meant is loaded in full.
            rows = (await s.execute(
                q.where(Task.status.in_(OPEN_STATUSES))
                .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(200)
            )).all()
        if member_id is None and actor.member_id is not None:
            own = [r for r in rows if r.member_id == actor.member_id]
            rows = own or rows
        found = best_match(title, rows, lambda r: str(r.title), what="open task")
        return await self.get(actor, int(found.id))

    async def next_up(self, actor: Actor, member_id: int | None = None) -> builtins.list[TaskOut]:
        """The open tasks a "what next?" choice picks from, at most one of each: the most
        pressing overdue urgent or high one, the earliest due, and the most important undated.
        """
        now = self.clock.now()
        async with self.db.read() as s:
            by_member, scope = await read_scope(s, actor, member_id)
            found: dict[int, Task] = {}
            for q in _next_up_queries(by_member):
                t = await s.scalar(q, {"scope": scope, "now": now})
                if t is not None:
                    found.setdefault(t.id, t)
            tzs = await member_tz_map(s, {t.member_id for t in found.values()})
            return [task_out(t, tzs[t.member_id], now) for t in found.values()]

    async def _load(
        self, s: AsyncSession, actor: Actor, task_id: int, *, write: bool = False
    ) -> tuple[Task, Member]:
        t = await s.get(Task, task_id)
        if t is None:
            raise NotFound(f"task {task_id} not found")
        require_household(actor, t.household_id)
        m = await member_for_write(s, actor, t.member_id) if write else await member_for_read(
            s, actor, t.member_id
        )
        return t, m
