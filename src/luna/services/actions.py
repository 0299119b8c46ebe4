"""The action log: every write a tool made for a member, and "undo that" for the latest one.

Each row carries an undo recipe (`undo["op"]` plus what it needs), written when the action
happened, because afterwards the previous state (an old due time, yesterday's mood) is gone.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import ActionLog, DailyCheckIn, HabitLog
from luna.errors import Conflict, InvalidInput, LunaError, NotFound
from luna.services.access import Actor
from luna.services.calendar import CalendarService
from luna.services.chores import ChoreService
from luna.services.goals import GoalService
from luna.services.habits import HabitService
from luna.services.tasks import TaskService

log = structlog.get_logger(__name__)

UNDO_WINDOW = dt.timedelta(minutes=10)
CHECKIN_FIELDS = ("sleep_quality", "mood", "energy", "exercise_minutes", "notes")
NOT_UNDOABLE = "none"
_LOOKBACK = 20
"""Background writes (profile memory) marked `skip` are passed over, up to this many."""


class ActionOut(BaseModel):
    id: int
    member_id: int
    tool: str
    summary: str
    target_kind: str | None
    target_id: int | None
    channel: str | None
    created_at: dt.datetime
    undone_at: dt.datetime | None


class UndoOut(BaseModel):
    action: ActionOut
    message: str
    """What the member hears: "Undone: I removed the task “Buy milk”."."""


@dataclass(frozen=True, slots=True)
class ActionEntry:
    """One write a tool made, as its action-log row will say it (and how to take it back)."""

    member_id: int
    household_id: int
    tool: str
    summary: str
    target_kind: str | None
    target_id: int | None
    undo: dict[str, Any]
    channel: str | None


_ENTRY_FIELDS = tuple(f.name for f in fields(ActionEntry))
_ACTIONLOG_TABLE: Table = ActionLog.__table__  # type: ignore[assignment]
_INSERT_ACTION = insert(_ACTIONLOG_TABLE).returning(_ACTIONLOG_TABLE.c.id)
_LATEST_ID = select(func.max(_ACTIONLOG_TABLE.c.id)).where(
    _ACTIONLOG_TABLE.c.household_id == bindparam("household_id")
)
_WRITES_SINCE = (
    select(_ACTIONLOG_TABLE.c.id, _ACTIONLOG_TABLE.c.tool, _ACTIONLOG_TABLE.c.member_id)
    .where(_ACTIONLOG_TABLE.c.household_id == bindparam("household_id"),
           _ACTIONLOG_TABLE.c.id > bindparam("after"))
    .order_by(_ACTIONLOG_TABLE.c.id)
)


class FiledHere:
    """The ids of the action-log rows this process wrote, lately: how a worker tells its own
    writes from another process's (`ActionService.written_elsewhere`)."""

    def __init__(self, keep: int = 4096) -> None:
        self._order: deque[int] = deque(maxlen=keep)
        self._ids: set[int] = set()

    def add(self, ids: Sequence[int]) -> None:
        for new_id in ids:
            if len(self._order) == self._order.maxlen:
                self._ids.discard(self._order[0])
            self._order.append(new_id)
            self._ids.add(new_id)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._ids


def insert_actions(
    conn: Connection, entries: Sequence[ActionEntry], now: dt.datetime
) -> list[int]:
    """Write `entries` inside the caller's transaction (one plain INSERT each, not a
    unit-of-work flush); their new ids, in order. A conversation turn files its writes with
    its Interaction this way, in one transaction."""
    ids: list[int] = []
    for entry in entries:
        # Not `asdict`, which deep-copies the undo recipe only to have it serialised.
        values = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        values["created_at"] = now
        ids.append(int(conn.execute(_INSERT_ACTION, values).scalar_one()))
    return ids


def action_out(row: ActionLog) -> ActionOut:
    return ActionOut(
        id=row.id, member_id=row.member_id, tool=row.tool, summary=row.summary,
        target_kind=row.target_kind, target_id=row.target_id, channel=row.channel,
        created_at=row.created_at, undone_at=row.undone_at,
    )


class ActionService:
    def __init__(self, db: Database, clock: Clock, filed_here: FiledHere | None = None) -> None:
        self.db = db
        self.clock = clock
        self.filed_here = filed_here or FiledHere()
        # Reversals go through each service's own rules (a child still can't delete a
        # sibling's task); these are stateless, so private instances are as good as shared.
        self._tasks = TaskService(db, clock)
        self._habits = HabitService(db, clock)
        self._goals = GoalService(db, clock)
        self._chores = ChoreService(db, clock)
        self._calendar = CalendarService(db, clock)

    async def file(self, entry: ActionEntry) -> ActionOut:
        """Log one write on its own (a call's tools; a turn whose Interaction was not filed)."""
        now = self.clock.now()
        (new_id,) = await self.db.run_write(insert_actions, [entry], now)
        self.filed_here.add([new_id])
        row = ActionLog(id=new_id, undone_at=None, created_at=now, **asdict(entry))
        return action_out(row)

    async def latest_id(self, household_id: int) -> int:
        """The household's newest action-log id (0 for none): a mark to ask `written_elsewhere`
        about later."""
        async with self.db.connect() as conn:
            found = (await conn.execute(_LATEST_ID, {"household_id": household_id})).scalar()
        return int(found or 0)

    async def written_elsewhere(
        self, household_id: int, after: int
    ) -> tuple[set[tuple[str, int | None]], int]:
        """The (tool, speaker) pairs of the writes another process logged in the household
        after action `after`, and the newest id seen. Only tool writes are logged; other
        changes (the dashboard's) reach a worker's caches when those expire."""
        # A Core connection, without an ORM session around it.
        async with self.db.connect() as conn:
            rows = (await conn.execute(
                _WRITES_SINCE, {"household_id": household_id, "after": after}
            )).all()
        foreign = {(tool, member_id) for action_id, tool, member_id in rows
                   if action_id not in self.filed_here}
        return foreign, (rows[-1][0] if rows else after)

    async def recent(self, actor: Actor, limit: int = 20) -> list[ActionOut]:
        """The speaker's own latest actions, newest first."""
        member_id = _speaker(actor)
        async with self.db.read() as s:
            rows = await s.scalars(
                select(ActionLog).where(ActionLog.member_id == member_id)
                .order_by(ActionLog.created_at.desc(), ActionLog.id.desc())
                .limit(max(1, min(limit, 200)))
            )
            return [action_out(r) for r in rows]

    async def undo_last(self, actor: Actor, within: dt.timedelta = UNDO_WINDOW) -> UndoOut:
        """Reverse the speaker's latest action that is not undone yet, if it is recent enough."""
        member_id = _speaker(actor)
        now = self.clock.now()
        async with self.db.read() as s:
            rows = await s.scalars(
                select(ActionLog)
                .where(ActionLog.member_id == member_id, ActionLog.undone_at.is_(None))
                .order_by(ActionLog.created_at.desc(), ActionLog.id.desc())
                .limit(_LOOKBACK)
            )
            row = next((r for r in rows if not (r.undo or {}).get("skip")), None)
        if row is None:
            raise NotFound("there is nothing of yours to undo")
        if now - row.created_at > within:
            minutes = int((now - row.created_at).total_seconds() // 60)
            raise Conflict(
                f"your last change ({row.summary}) was {minutes} minutes ago; I can only undo "
                f"changes from the last {int(within.total_seconds() // 60)} minutes"
            )
        recipe = dict(row.undo or {})
        if recipe.get("op", NOT_UNDOABLE) == NOT_UNDOABLE:
            raise Conflict(recipe.get("reason") or f"I can't undo that: {row.summary}")
        await self._claim(row.id, now)
        try:
            message = await self._reverse(actor, row, recipe)
        except NotFound:
            message = f"{row.summary} was already gone, so there was nothing left to undo"
        except LunaError:
            await self._release(row.id)
            raise
        row.undone_at = now
        # Logged, and passed over by the next undo, so that other processes see that the
        # household changed (`written_elsewhere`); an undo is not itself undoable.
        try:
            await self.file(ActionEntry(
                member_id=row.member_id, household_id=row.household_id,
                tool="undo_last_action", summary=f"Undid: {row.summary}",
                target_kind=row.target_kind, target_id=row.target_id,
                undo={"op": NOT_UNDOABLE, "skip": True}, channel=row.channel,
            ))
        except LunaError:
            # The undo itself is done; other workers' lists then catch up when they expire.
            log.warning("undo_not_logged", action_id=row.id)
        return UndoOut(action=action_out(row), message=message)

    async def _claim(self, action_id: int, now: dt.datetime) -> None:
        # Two "undo"s at once (a double-sent SMS) must not reverse the same thing twice.
        async with self.db.transaction() as s:
            done = await s.execute(
                update(ActionLog)
                .where(ActionLog.id == action_id, ActionLog.undone_at.is_(None))
                .values(undone_at=now)
            )
            if getattr(done, "rowcount", 1) == 0:
                raise Conflict("that change was just undone")

    async def _release(self, action_id: int) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(ActionLog).where(ActionLog.id == action_id).values(undone_at=None)
            )

    async def _reverse(self, actor: Actor, row: ActionLog, recipe: dict[str, Any]) -> str:
        op = recipe["op"]
        target = row.target_id
        done = str(recipe.get("done") or f"I reversed: {row.summary}")
        if op == "delete_task":
            await self._tasks.delete(actor, _id(target))
        elif op == "restore_task":
            changes: dict[str, Any] = {}
            if "status" in recipe:
                changes["status"] = recipe["status"]
            if "due_at" in recipe:
                changes["due_at"] = _instant(recipe["due_at"])
            await self._tasks.update(actor, _id(target), changes)
        elif op == "delete_habit_log":
            await self._delete_habit_log(actor, _id(target), bool(recipe.get("habit_created")))
        elif op == "restore_checkin":
            await self._restore_checkin(actor, dt.date.fromisoformat(recipe["day"]),
                                        recipe.get("previous"))
        elif op == "delete_goal":
            await self._goals.delete(actor, _id(target))
        elif op == "restore_goal":
            await self._goals.update(actor, _id(target), {
                k: recipe[k] for k in ("current_value", "status", "description") if k in recipe
            })
        elif op == "deactivate_chore":
            await self._chores.update(actor, _id(target), {"active": False})
        elif op == "undo_chore_completion":
            await self._chores.undo(actor, _id(target))
        elif op == "delete_event":
            await self._calendar.delete(actor, _id(target))
        else:
            raise InvalidInput(f"I don't know how to undo {row.tool}")
        return f"Undone: {done}"

    async def _delete_habit_log(self, actor: Actor, log_id: int, habit_created: bool) -> None:
        async with self.db.transaction() as s:
            log = await s.get(HabitLog, log_id)
            if log is None or log.member_id != actor.member_id:
                raise NotFound(f"habit log {log_id} not found")
            habit_id = log.habit_id
            await s.delete(log)
        if habit_created:
            # The log made the habit up on the spot; undoing the log should not leave it behind.
            await self._habits.delete(actor, habit_id)

    async def _restore_checkin(
        self, actor: Actor, day: dt.date, previous: dict[str, Any] | None
    ) -> None:
        async with self.db.transaction() as s:
            row = await _checkin_row(s, _speaker(actor), day)
            if row is None:
                raise NotFound(f"no check-in on {day.isoformat()}")
            if previous is None:
                await s.delete(row)
                return
            for key in CHECKIN_FIELDS:
                setattr(row, key, previous.get(key))
            row.updated_at = self.clock.now()


async def _checkin_row(s: AsyncSession, member_id: int, day: dt.date) -> DailyCheckIn | None:
    row: DailyCheckIn | None = await s.scalar(
        select(DailyCheckIn).where(DailyCheckIn.member_id == member_id,
                                   DailyCheckIn.local_date == day)
    )
    return row


def _speaker(actor: Actor) -> int:
    if actor.member_id is None:
        raise InvalidInput("undo works for a member, not the server admin")
    return actor.member_id


def _id(target: int | None) -> int:
    if target is None:
        raise NotFound("the changed item is not known")
    return target


def _instant(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(str(value))
