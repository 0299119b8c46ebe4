"""The scheduler's database side: which members are due, what they have, claiming nudge keys.

A tick reads only the members whose `next_fire_at` has come (an index range), locks them with
FOR UPDATE SKIP LOCKED on PostgreSQL so concurrent workers take disjoint sets, loads what those
members have in a handful of bulk queries, plans each one (pure), and claims the nudge keys with
INSERT ... ON CONFLICT DO NOTHING: whatever did not insert was someone else's, and is not sent.

A member is planned a few minutes before their next nudge (due.lead), so a nudge is usually
claimed as "scheduled"; `release` turns the scheduled nudges whose moment has come into
"pending" ones to send (an UPDATE ... RETURNING of rows still "scheduled": one taker each).
What can change in between is checked again when the message is written (content, dispatch),
and planning a member again (their day changed) first withdraws their scheduled nudges.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import (
    Date,
    Integer,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from luna.db.engine import Database
from luna.db.models import (
    Chore,
    Habit,
    HabitLog,
    Household,
    Interaction,
    Member,
    MemberSchedule,
    Nudge,
    Task,
    UsageRecord,
)
from luna.db.schedule_tracking import STALE
from luna.db.types import UTCDateTime
from luna.domain.habits import (
    WEEKDAY_NAMES,
    DayEntry,
    FrequencyKind,
    HabitRule,
    Pause,
    TargetKind,
    is_due,
)
from luna.domain.localday import DEFAULT_DAY_START, combine_local, local_date, parse_hhmm, zone
from luna.scheduler.due import (
    RETRY,
    SCHEDULED,
    STATUS,
    Channel,
    ChoreSlot,
    Due,
    HabitSlot,
    Kind,
    MemberState,
    Quiet,
    Rules,
    Sent,
    TaskSlot,
    plan,
)
from luna.services.members import Preferences
from luna.services.tasks import OPEN_STATUSES

log = structlog.get_logger(__name__)

REPLAN_LATER = dt.timedelta(hours=1)
"""A member whose data cannot be planned (a broken timezone) is looked at again this much later."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A nudge whose key this process won, waiting to be written and sent."""

    id: int
    key: str
    household_id: int
    member_id: int
    kind: Kind
    channel: Channel
    due_at: dt.datetime
    local_date: dt.date
    ref: int | None
    step: int
    items: tuple[tuple[str, int], ...]
    detail: dict[str, Any] = field(default_factory=dict)
    """What was recorded with the claim; the final status adds to it."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    members: int
    claimed: list[Claimed]
    decided: int
    """Nudges decided in this batch, including the ones skipped or suppressed on the spot."""


@functools.lru_cache(maxsize=4096)
def _hhmm(value: str) -> dt.time | None:
    try:
        return parse_hhmm(value)
    except ValueError:
        return None


def _time(value: Any, default: dt.time | None) -> dt.time | None:
    parsed = _hhmm(value) if isinstance(value, str) else None
    return default if parsed is None else parsed


def _preferences(raw: dict[str, Any] | None) -> Preferences:
    try:
        return Preferences.model_validate(raw or {})
    except ValidationError:
        return Preferences()


def _chore_overdue_at(
    next_due: dt.date | None, due_time: str | None, tz: str
) -> dt.datetime | None:
    """When the chore becomes overdue on the household's clock (cf. recurrence.is_overdue)."""
    if next_due is None:
        return None
    at = _time(due_time, None)
    if at is None:
        return combine_local(next_due + dt.timedelta(days=1), dt.time(0), tz)
    return combine_local(next_due, at, tz)


_SCHEDULES: Table = MemberSchedule.__table__  # type: ignore[assignment]
# Core executemany: the ORM's bulk update costs more than the planning it records.
_RESCHEDULE = (
    update(_SCHEDULES)
    .where(_SCHEDULES.c.member_id == bindparam("m"))
    .values(next_fire_at=bindparam("next_fire_at"), planned_through=bindparam("planned_through"),
            timezone=bindparam("timezone"))
)


_RESCHEDULE_COLS = ("m", "next_fire_at", "planned_through", "timezone")
_RESCHEDULE_PG = text(
    "UPDATE member_schedules AS s SET next_fire_at = u.next_fire_at, "
    "planned_through = u.planned_through, timezone = u.timezone "
    "FROM unnest(CAST(:m AS integer[]), CAST(:next_fire_at AS timestamptz[]), "
    "CAST(:planned_through AS timestamptz[]), CAST(:timezone AS varchar[])) "
    "AS u(member_id, next_fire_at, planned_through, timezone) "
    "WHERE s.member_id = u.member_id"
)
"""PostgreSQL: the batch's new times in one statement over arrays (executemany ran the UPDATE,
and planned it, once per member)."""
_CLAIM_COLS = ("key", "household_id", "member_id", "kind", "channel", "status", "local_date",
               "ref_id", "due_at")
_CLAIM_PG = text(
    "INSERT INTO nudges (key, household_id, member_id, kind, channel, status, local_date, "
    "ref_id, due_at, created_at, detail) "
    "SELECT u.key, u.household_id, u.member_id, u.kind, u.channel, u.status, u.local_date, "
    "u.ref_id, u.due_at, CAST(:created_at AS timestamptz), CAST(u.detail AS json) "
    "FROM unnest(CAST(:key AS varchar[]), CAST(:household_id AS integer[]), "
    "CAST(:member_id AS integer[]), CAST(:kind AS varchar[]), CAST(:channel AS varchar[]), "
    "CAST(:status AS varchar[]), CAST(:local_date AS date[]), CAST(:ref_id AS integer[]), "
    "CAST(:due_at AS timestamptz[]), CAST(:detail AS text[])) "
    "AS u(key, household_id, member_id, kind, channel, status, local_date, ref_id, due_at, "
    "detail) "
    "ON CONFLICT (key) DO NOTHING RETURNING nudges.id, nudges.key"
)


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Row dicts as one list per column, for the unnest statements."""
    return {n: [r[n] for r in rows] for n in names}


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
"""The batch's statements are planned afresh on PostgreSQL, with the tables' sizes as they are
now. asyncpg prepares every statement, and after five executions PostgreSQL may switch to a
generic plan and keep it until the table's statistics change: `nudges` starts the day empty and
grows by hundreds of thousands of rows, and without (auto)analyze in between the generic plan
costed on the empty table - a sequential scan of `nudges` for each member of the batch - stays
(EXPLAIN: 130k buffers, over a second a batch by mid-morning). A custom plan sees the table's
current size even when its statistics are stale; planning costs well under a millisecond."""

_NUDGES: Table = Nudge.__table__  # type: ignore[assignment]
_CLAIMED_COLS = (_NUDGES.c.id, _NUDGES.c.key, _NUDGES.c.household_id, _NUDGES.c.member_id,
                 _NUDGES.c.kind, _NUDGES.c.channel, _NUDGES.c.due_at, _NUDGES.c.local_date,
                 _NUDGES.c.ref_id, _NUDGES.c.detail)
_NOW = bindparam("now", type_=UTCDateTime())
_IS_SCHEDULED = _NUDGES.c.status == literal_column(f"'{SCHEDULED}'")
"""Written into the statement, not bound: only then can PostgreSQL's generic plan of the
prepared statement use the partial index (WHERE status = 'scheduled'); with a parameter each
release scanned the whole day's nudges by due_at."""
_RIPE = (
    select(_NUDGES.c.id)
    .where(_IS_SCHEDULED, _NUDGES.c.due_at <= _NOW)
    .order_by(_NUDGES.c.due_at)
    .limit(bindparam("limit", type_=Integer))
)


def _release(ripe: Any) -> Any:
    return (
        update(_NUDGES)
        .where(_NUDGES.c.id.in_(ripe.scalar_subquery()), _IS_SCHEDULED)
        .values(status=STATUS["send"])
        .returning(*_CLAIMED_COLS)
    )


_RELEASE = _release(_RIPE)
_RELEASE_PG = _release(_RIPE.with_for_update(skip_locked=True))
"""Concurrent workers release disjoint sets; the status test makes each row one taker's."""
_WITHDRAW = (
    delete(_NUDGES)
    .where(_NUDGES.c.id.in_(bindparam("ids", expanding=True)), _IS_SCHEDULED)
    .returning(_NUDGES.c.key)
)
"""A member planned again (their day changed) is decided afresh for whatever has not been
released yet: the plan looks back to when they were last planned, so a nudge still wanted
comes back under its key (due now or later) and one that is not any more is gone. By the ids
the batch's nudges were read with (primary key): by member, PostgreSQL took the partial index
and walked every scheduled nudge for each batch. One released meanwhile stays (the status
test) and counts as claimed."""
_SCHEDULED_DUE = (
    select(func.count()).select_from(_NUDGES).where(_IS_SCHEDULED, _NUDGES.c.due_at <= _NOW)
)
_FINISH = (
    update(_NUDGES)
    .where(_NUDGES.c.id == bindparam("n"))
    .values(status=bindparam("status"), sent_at=bindparam("sent_at"),
            detail=bindparam("detail"))
)


@dataclass(frozen=True, slots=True)
class Outcome:
    nudge_id: int
    status: str
    at: dt.datetime
    detail: dict[str, Any]


VACUUM_AFTER = 20_000
"""Schedule rows rescheduled (dead row versions left, on PostgreSQL) before `maintain` vacuums."""
_VACUUM = text("VACUUM (ANALYZE, SKIP_LOCKED) member_schedules, nudges")


class ScheduleStore:
    def __init__(self, db: Database, rules: Rules) -> None:
        self.db = db
        self.rules = rules
        self.rescheduled = 0
        """Schedule rows this store moved since it last vacuumed them."""

    @property
    def _pg(self) -> bool:
        return self.db.dialect == "postgresql"

    def _insert(self) -> Any:
        # Core, not the ORM entity: the ORM's bulk INSERT ... RETURNING is far slower here.
        return (postgresql.insert if self._pg else sqlite.insert)(_NUDGES)

    async def ensure_rows(self) -> int:
        """A schedule row for every member (ones added before the scheduler, or in bulk)."""
        async with self.db.transaction() as s:
            missing = select(Member.id, literal(STALE, UTCDateTime())).where(
                ~select(MemberSchedule.member_id)
                .where(MemberSchedule.member_id == Member.id).exists()
            )
            stmt = (postgresql.insert if self._pg else sqlite.insert)(MemberSchedule)
            result = await s.execute(
                stmt.from_select(["member_id", "next_fire_at"], missing).on_conflict_do_nothing()
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def due_count(self, now: dt.datetime) -> int:
        """Members due for planning plus scheduled nudges due for release."""
        async with self.db.read() as s:
            n = await s.scalar(
                select(func.count()).select_from(MemberSchedule)
                .where(MemberSchedule.next_fire_at <= now)
            )
            ripe = await s.scalar(_SCHEDULED_DUE, {"now": now})
            return int(n or 0) + int(ripe or 0)

    async def release(self, now: dt.datetime, limit: int) -> list[Claimed]:
        """Up to `limit` scheduled nudges whose moment has come, now this process's to send;
        ones that waited past the catch-up window (the scheduler was down) are skipped."""
        async with self.db.transaction() as s:
            conn = await s.connection()
            rows = (await conn.execute(_RELEASE_PG if self._pg else _RELEASE,
                                       {"now": now, "limit": limit})).all()
            out: list[Claimed] = []
            missed: list[dict[str, Any]] = []
            for nid, key, hid, mid, kind, channel, due_at, day, ref, detail in rows:
                info = dict(detail or {})
                late = now - due_at
                if late > self.rules.catchup:
                    reason = f"missed by {int(late.total_seconds() // 60)} min"
                    log.info("nudge_not_sent", key=key, action="skip", reason=reason)
                    missed.append({"n": nid, "status": STATUS["skip"], "sent_at": None,
                                   "detail": {**info, "reason": reason}})
                    continue
                items = tuple((str(k), int(i)) for k, i in info.get("items", ()))
                out.append(Claimed(nid, key, hid, mid, kind, channel, due_at, day, ref,
                                   int(info.get("step", 0)), items, info))
            if missed:
                await conn.execute(_FINISH, missed)
            return out

    async def plan_batch(self, now: dt.datetime, limit: int) -> BatchResult:
        """Plan up to `limit` due members and claim their nudges, in one transaction."""
        async with self.db.transaction() as s:
            # Core statements on the session's connection: the ORM's result machinery costs
            # more per row than the planning does, and these are plain column rows.
            conn = await s.connection()
            if self._pg:
                await conn.execute(_CUSTOM_PLANS)
            q = _DUE_PG if self._pg else _DUE
            rows = [_DueRow(*r) for r in
                    (await conn.execute(q, {"now": now, "limit": limit})).all()]
            if not rows:
                return BatchResult(0, [], 0)
            states = await load_states(conn, rows, now, self.rules)
            decided: list[tuple[int, Due]] = []
            changes: list[dict[str, Any]] = []
            for row in rows:
                state = states[row.member_id]
                try:
                    p = plan(state, now, since=row.planned_through, previous_tz=row.planned_tz,
                             rules=self.rules)
                except ValueError:
                    log.exception("schedule_plan_failed", member_id=row.member_id)
                    changes.append({"m": row.member_id, "next_fire_at": now + REPLAN_LATER,
                                    "planned_through": row.planned_through,
                                    "timezone": row.planned_tz})
                    continue
                decided.extend((row.household_id, d) for d in p.nudges)
                changes.append({"m": row.member_id, "next_fire_at": p.next_at,
                                "planned_through": now, "timezone": state.tz})
            if changes:
                if self._pg:
                    await conn.execute(_RESCHEDULE_PG, _columns(changes, _RESCHEDULE_COLS))
                else:
                    await conn.execute(_RESCHEDULE, changes)
                self.rescheduled += len(changes)
            claimed = await self._claim(conn, decided, now)
            return BatchResult(len(rows), claimed, len(decided))

    async def _claim(
        self, conn: AsyncConnection, decided: Sequence[tuple[int, Due]], now: dt.datetime
    ) -> list[Claimed]:
        if not decided:
            return []
        values = [
            {
                "key": d.key, "household_id": hid, "member_id": _member_of(d.key), "kind": d.kind,
                "channel": d.channel, "status": STATUS[d.action], "local_date": d.local_date,
                "ref_id": d.ref, "due_at": d.due_at, "created_at": now,
                "detail": _detail(d),
            }
            for hid, d in decided
        ]
        fresh = [v for v, (_, d) in zip(values, decided, strict=True) if not d.retry]
        won: dict[str, tuple[int, dict[str, Any]]] = {}
        if fresh:
            # One statement for the batch: SQLAlchemy's "insertmanyvalues" sends it as multi-row
            # INSERT ... ON CONFLICT DO NOTHING RETURNING pages (compiled once, unlike a
            # `.values([...])` statement, whose compilation cost more than the insert). The keys
            # that come back are ours; the rest were claimed before, here or elsewhere.
            if self._pg:
                # On PostgreSQL the rows go in as one array per column: a single statement
                # planned once, instead of a multi-row VALUES of a couple of thousand
                # parameters planned afresh for each batch (see _CUSTOM_PLANS).
                claimed = await conn.execute(_CLAIM_PG, {
                    **_columns(fresh, _CLAIM_COLS),
                    "detail": [json.dumps(v["detail"]) for v in fresh], "created_at": now,
                })
            else:
                stmt = self._insert().on_conflict_do_nothing(index_elements=["key"]).returning(
                    _NUDGES.c.id, _NUDGES.c.key
                )
                claimed = await conn.execute(stmt, fresh)
            won = {key: (nid, {}) for nid, key in claimed.all()}
        for v, (_, d) in zip(values, decided, strict=True):
            if d.retry:
                # Only one planner can move a row out of "retry": the claim is the UPDATE.
                row = (await conn.execute(
                    update(_NUDGES).where(_NUDGES.c.key == d.key, _NUDGES.c.status == RETRY)
                    .values(status=v["status"]).returning(_NUDGES.c.id, _NUDGES.c.detail)
                )).first()
                if row is not None:
                    won[d.key] = (row[0], dict(row[1] or {}))
        out: list[Claimed] = []
        for hid, d in decided:
            claim = won.get(d.key)
            if claim is None:
                log.info("nudge_claimed_elsewhere", key=d.key)
                continue
            nid, before = claim
            if d.action == "schedule":
                continue  # sent once released, at its moment
            if d.action != "send":
                log.info("nudge_not_sent", key=d.key, action=d.action, reason=d.reason)
                continue
            out.append(Claimed(nid, d.key, hid, _member_of(d.key), d.kind, d.channel, d.due_at,
                               d.local_date, d.ref, d.step, d.items, {**before, **_detail(d)}))
        return out

    async def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Record what became of a batch of sends, in one statement."""
        if not outcomes:
            return
        async with self.db.transaction() as s:
            await s.execute(_FINISH, [
                {"n": o.nudge_id, "status": o.status, "detail": o.detail,
                 "sent_at": o.at if o.status == "sent" else None}
                for o in outcomes
            ])

    async def backup_for(self, member_id: int) -> int | None:
        """Who hears about the member's unanswered critical item: the household's choice
        (settings "backup_member_ids": {member id: backup id}), else the first other adult
        with a phone who has not opted out."""
        async with self.db.read() as s:
            m = await s.get(Member, member_id)
            if m is None:
                return None
            h = await s.get(Household, m.household_id)
            chosen = ((h.settings if h else None) or {}).get("backup_member_ids") or {}
            others = list(await s.scalars(
                select(Member).where(Member.household_id == m.household_id, Member.id != m.id)
                .order_by(Member.id)
            ))
            wanted = chosen.get(str(member_id)) if isinstance(chosen, dict) else None
            for o in others:
                if str(o.id) == str(wanted):
                    return o.id
            for o in others:
                if o.role == "adult" and o.phone and not o.sms_opt_out:
                    return o.id
            return None

    async def spent(
        self, member_id: int, kind: str, start: dt.datetime, end: dt.datetime
    ) -> float:
        async with self.db.read() as s:
            total = await s.scalar(
                select(func.sum(UsageRecord.cost_usd)).where(
                    UsageRecord.member_id == member_id, UsageRecord.kind == kind,
                    UsageRecord.created_at >= start, UsageRecord.created_at < end,
                )
            )
            return float(total or 0.0)

    async def record_usage(
        self, household_id: int, member_id: int, kind: str, quantity: float, unit: str,
        cost_usd: float, at: dt.datetime,
    ) -> None:
        async with self.db.transaction() as s:
            s.add(UsageRecord(household_id=household_id, member_id=member_id, kind=kind,
                              quantity=quantity, unit=unit, cost_usd=cost_usd, created_at=at))

    async def prune(self, before: dt.datetime, chunk: int = 5000) -> int:
        """Forget nudges due before `before` (their keys are long out of the planner's reach)."""
        removed = 0
        while True:
            async with self.db.transaction() as s:
                ids = select(Nudge.id).where(Nudge.due_at < before).limit(chunk)
                result = await s.execute(delete(Nudge).where(Nudge.id.in_(ids.scalar_subquery())))
                n = int(getattr(result, "rowcount", 0) or 0)
            removed += n
            if n < chunk:
                return removed

    async def maintain(self, *, every: int = VACUUM_AFTER) -> bool:
        """On PostgreSQL, vacuum `member_schedules` and `nudges` once this process has moved
        `every` rows.

        Each planning is a non-HOT update (the indexed `next_fire_at` moves), and the old
        versions' index entries sit below now, where every due scan starts: without a vacuum
        a day's 400k of them made each scan read hundreds of pages to find none due, and the
        statistics still said every row was due. `nudges` gathers dead rows the same way (a
        release moves a scheduled nudge on; a replanned member's scheduled ones are deleted):
        unvacuumed, one tick of the bench's day took 200-440 ms instead of about 100, every run
        at the same moment. The tables' autovacuum thresholds are tight (migration 0002), but
        autovacuum may be off (it is on the test machine) or behind; this takes no lock that
        planning waits for, and skips a table another worker is vacuuming.
        """
        if not self._pg or self.rescheduled < every:
            return False
        self.rescheduled = 0
        async with self.db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(_VACUUM)
        return True

    async def mark_stale(self, member_ids: Sequence[int]) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(MemberSchedule).where(MemberSchedule.member_id.in_(list(member_ids)))
                .values(next_fire_at=STALE)
            )


def _member_of(key: str) -> int:
    return int(key.split(":", 1)[0].removeprefix("m"))


def _detail(d: Due) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.reason:
        out["reason"] = d.reason
    if d.step:
        out["step"] = d.step
    if d.items:
        out["items"] = [list(i) for i in d.items]
    return out


@dataclass(frozen=True, slots=True)
class _DueRow:
    """A member due for planning: their schedule row, with what the member row says."""

    member_id: int
    planned_through: dt.datetime | None
    planned_tz: str | None
    household_id: int
    timezone: str | None
    preferences: str | None
    """The stored JSON document, parsed through `_prefs` (cached)."""
    opted_out: bool
    has_phone: bool
    household_tz: str


@dataclass(frozen=True, slots=True)
class _Prefs:
    """What the planner reads from a member's preferences."""

    morning: dt.time | None
    evening: dt.time | None
    prefer_voice: bool
    quiet: Quiet
    day_start: dt.time


@functools.lru_cache(maxsize=4096)
def _prefs(raw: str | None) -> _Prefs:
    """Parsed and validated once per distinct document: members mostly share a handful of
    preference shapes, and validating each member's anew cost more than planning them."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    p = _preferences(data if isinstance(data, dict) else {})
    return _Prefs(
        morning=_time(p.morning_checkin, None),
        evening=_time(p.evening_checkin, None),
        prefer_voice=p.prefer_voice,
        quiet=Quiet(_time(p.quiet_hours.start, None) or dt.time(21, 30),
                    _time(p.quiet_hours.end, None) or dt.time(7)),
        day_start=_time(p.day_start, None) or DEFAULT_DAY_START,
    )


async def load_states(
    conn: AsyncConnection, rows: Sequence[_DueRow], now: dt.datetime, rules: Rules,
) -> dict[int, MemberState]:
    """Everything the planner needs for these members, in a few queries for the whole batch
    (plain column rows: a batch of full ORM objects would cost more than the planning). Their
    scheduled nudges are withdrawn on the way (`_WITHDRAW`): they are planned afresh."""
    ids = [r.member_id for r in rows]
    tz_of = {r.member_id: _zone_or(r.timezone, r.household_tz) for r in rows}
    prefs = {r.member_id: _prefs(r.preferences) for r in rows}
    household_tz = {r.household_id: r.household_tz for r in rows}
    # The planner looks back to the oldest `since` (bounded by the lookback), a day earlier
    # for reminders before day_start, and ahead to tomorrow.
    oldest = min((r.planned_through or now for r in rows), default=now)
    back = min(now - oldest, rules.lookback).days + 2
    habits = await _habits(conn, ids, now, tz_of, prefs, back)
    tasks: dict[int, list[TaskSlot]] = defaultdict(list)
    task_rows = await conn.execute(_TASKS, {"ids": ids})
    for tid, owner, title, due_at, created_at, is_critical in task_rows:
        if due_at is not None:
            tasks[owner].append(TaskSlot(tid, title, due_at, created_at, bool(is_critical)))
    chores: dict[int, list[ChoreSlot]] = defaultdict(list)
    wanted = set(ids)
    # Through the households (indexed), not the assignees (not indexed): a chore's assignee is
    # always one of its own household's members.
    for cid, hid, assignee, title, next_due, due_time in await conn.execute(
        _CHORES, {"households": sorted(household_tz)}
    ):
        if assignee not in wanted:
            continue
        at = _chore_overdue_at(next_due, due_time, household_tz.get(hid, "UTC"))
        if at is not None:
            chores[assignee].append(ChoreSlot(cid, title, at))
    sent: dict[int, dict[str, Sent]] = defaultdict(dict)
    since = now - rules.lookback - dt.timedelta(days=2)
    waiting: list[int] = []
    for nid, owner, key, status, created_at, sent_at, due_at in await conn.execute(
        _SENT_PG if conn.dialect.name == "postgresql" else _SENT, {"ids": ids, "since": since}
    ):
        if status == SCHEDULED:
            waiting.append(nid)
        # A scheduled nudge counts from its moment, not from when it was decided.
        at = due_at if status == SCHEDULED else sent_at or created_at
        sent[owner][key] = Sent(status, at)
    if waiting:
        for (key,) in await conn.execute(_WITHDRAW, {"ids": waiting}):
            del sent[_member_of(key)][key]
    critical = [mid for mid, ts in tasks.items() if any(t.critical for t in ts)]
    inbound: dict[int, dt.datetime] = {}
    if critical:
        for mid, last in await conn.execute(_INBOUND, {"ids": critical, "since": since}):
            if mid is not None and last is not None:
                inbound[mid] = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
    out: dict[int, MemberState] = {}
    for r in rows:
        mid = r.member_id
        p = prefs[mid]
        out[mid] = MemberState(
            member_id=mid, tz=tz_of[mid],
            morning=p.morning,
            evening=p.evening,
            prefer_voice=p.prefer_voice,
            quiet=p.quiet,
            opted_out=bool(r.opted_out),
            has_phone=bool(r.has_phone),
            day_start=p.day_start,
            habits=tuple(habits.get(mid, ())),
            tasks=tuple(tasks.get(mid, ())),
            chores=tuple(chores.get(mid, ())),
            sent=sent.get(mid, {}),
            last_inbound_at=inbound.get(mid),
        )
    return out


# The batch's statements, built once: constructing them anew for every batch cost more than
# running them. Member ids go in as expanding IN parameters.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_DUE_COLS = (
    select(MemberSchedule.member_id, MemberSchedule.planned_through, MemberSchedule.timezone,
           Member.household_id, Member.timezone, cast(Member.preferences, Text),
           Member.sms_opt_out, func.coalesce(Member.phone, "") != "", Household.timezone)
    # The due rows come with their member and household in the same round trip; an orphaned
    # row (its member gone) is left out, and went with them anyway.
    .join(Member, Member.id == MemberSchedule.member_id)
    .join(Household, Household.id == Member.household_id)
    .where(MemberSchedule.next_fire_at <= bindparam("now", type_=UTCDateTime()))
    .order_by(MemberSchedule.next_fire_at)
    .limit(bindparam("limit", type_=Integer))
)
_DUE = _DUE_COLS
_DUE_PG = _DUE_COLS.with_for_update(skip_locked=True, of=MemberSchedule)
"""Concurrent workers take disjoint sets of due members."""
_TASKS = (
    select(Task.id, Task.member_id, Task.title, Task.due_at, Task.created_at, Task.critical)
    .where(Task.member_id.in_(_IDS), Task.status.in_(OPEN_STATUSES), Task.due_at.is_not(None))
)
_CHORES = (
    # Through the households (indexed), not the assignees (not indexed): a chore's assignee is
    # always one of its own household's members.
    select(Chore.id, Chore.household_id, Chore.assignee_id, Chore.title, Chore.next_due,
           Chore.due_time)
    .where(Chore.household_id.in_(bindparam("households", expanding=True)),
           Chore.active.is_(True), Chore.next_due.is_not(None), Chore.assignee_id.is_not(None))
)
_SINCE = bindparam("since", type_=UTCDateTime())
_SENT_COLS = (Nudge.id, Nudge.member_id, Nudge.key, Nudge.status, Nudge.created_at,
              Nudge.sent_at, Nudge.due_at)
_SENT = select(*_SENT_COLS).where(Nudge.member_id.in_(_IDS), Nudge.due_at >= _SINCE)
_BATCH = (
    func.unnest(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    .table_valued("id").render_derived(name="b")
)
_PER_MEMBER = (
    select(*_SENT_COLS).where(Nudge.member_id == _BATCH.c.id, Nudge.due_at >= _SINCE)
    .offset(0).lateral("n")
)
_SENT_PG = select(*_PER_MEMBER.c).select_from(_BATCH).join(_PER_MEMBER, true())
"""On PostgreSQL one index probe per member, through (member_id, due_at): `nudges` is the
table that grows all day, and with statistics older than its growth the planner took
`member_id IN (...)` for unselective and scanned every recent nudge through the due_at index
instead (tens of seconds a busy tick). OFFSET 0 keeps the lateral subquery from being
flattened back into that plan."""
_INBOUND = (
    select(Interaction.member_id, func.max(Interaction.created_at))
    .where(Interaction.member_id.in_(_IDS), Interaction.direction == "inbound",
           Interaction.created_at >= _SINCE)
    .group_by(Interaction.member_id)
)
_HABITS = (
    select(Habit.id, Habit.member_id, Habit.name, Habit.reminder_time, Habit.created_at,
           Habit.frequency, Habit.times_per_week, cast(Habit.weekdays, Text), Habit.target,
           Habit.target_kind, cast(Habit.pauses, Text))
    .where(Habit.member_id.in_(_IDS), Habit.active.is_(True), Habit.reminder_time.is_not(None))
)
_LOGS = (
    select(HabitLog.habit_id, HabitLog.local_date, HabitLog.value, HabitLog.skipped)
    .where(HabitLog.habit_id.in_(_IDS), HabitLog.local_date >= bindparam("oldest", type_=Date))
    .order_by(HabitLog.local_date)
)


def _zone_or(tz: str | None, fallback: str) -> str:
    if tz:
        try:
            zone(tz)
        except ValueError:
            log.warning("schedule_bad_timezone", tz=tz)
        else:
            return tz
    return fallback


@functools.lru_cache(maxsize=1024)
def _rule(frequency: str, times_per_week: int | None, weekdays: str | None,
          target: float | None, target_kind: str) -> HabitRule:
    """A habit row's rule, built once per distinct shape (most habits are plain dailies)."""
    days = json.loads(weekdays) if weekdays else []
    return habit_rule(SimpleNamespace(frequency=frequency, times_per_week=times_per_week,
                                      weekdays=days, target=target, target_kind=target_kind))


@functools.lru_cache(maxsize=1024)
def _pauses(raw: str | None) -> tuple[Pause, ...]:
    return tuple(habit_pauses(json.loads(raw) if raw else []))


@functools.lru_cache(maxsize=8192)
def _due_days(
    rule: HabitRule, pauses: tuple[Pause, ...], logs: tuple[DayEntry, ...],
    days: tuple[dt.date, ...],
) -> frozenset[dt.date]:
    """The days in `days` on which the habit is due, ignoring each day's own log (so a logged
    day shows as suppressed, not as absent). Pure, so shared by every habit of the same shape
    and history: in a batch, most are the same daily habit with nothing logged."""
    return frozenset(d for d in days if is_due(rule, d, [e for e in logs if e.day != d], pauses))


async def _habits(
    conn: AsyncConnection, ids: list[int], now: dt.datetime, tz_of: dict[int, str],
    prefs: dict[int, _Prefs], back: int,
) -> dict[int, list[HabitSlot]]:
    rows = (await conn.execute(_HABITS, {"ids": ids})).all()
    if not rows:
        return {}
    oldest = now.date() - dt.timedelta(days=12)
    entries: dict[int, list[DayEntry]] = defaultdict(list)
    for habit_id, day, value, skipped in await conn.execute(
        _LOGS, {"ids": [h.id for h in rows], "oldest": oldest}
    ):
        entries[habit_id].append(DayEntry(day, value, skipped))
    out: dict[int, list[HabitSlot]] = defaultdict(list)
    for (hid, member_id, name, reminder_time, created_at, frequency, times_per_week, weekdays,
         target, target_kind, pauses) in rows:
        reminder = _time(reminder_time, None)
        tz = tz_of.get(member_id)
        if reminder is None or tz is None:
            continue
        try:
            today = local_date(now, tz, prefs[member_id].day_start)
            rule = _rule(frequency, times_per_week, weekdays, target, target_kind)
            paused = _pauses(pauses)
        except (ValueError, TypeError, KeyError):
            log.warning("schedule_bad_habit", habit_id=hid)
            continue
        logs = tuple(entries.get(hid, ()))
        days = tuple(today + dt.timedelta(days=i) for i in range(-back, 2))
        due = _due_days(rule, paused, logs, days)
        logged = frozenset(e.day for e in logs if e.day in days)
        out[member_id].append(HabitSlot(hid, name, reminder, created_at, due, logged))
    return out


def habit_rule(h: Any) -> HabitRule:
    """The domain rule of a habit row (cf. services.habits._rule, which takes the ORM row)."""
    return HabitRule(
        kind=FrequencyKind(h.frequency),
        times_per_week=h.times_per_week,
        weekdays=frozenset(WEEKDAY_NAMES.index(d) for d in h.weekdays or []),
        target=h.target,
        target_kind=TargetKind(h.target_kind),
    )


def habit_pauses(raw: list[Any] | None) -> list[Pause]:
    return [
        Pause(dt.date.fromisoformat(p["start"]),
              dt.date.fromisoformat(p["end"]) if p.get("end") else None)
        for p in raw or []
    ]
