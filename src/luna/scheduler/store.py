"""The scheduler's database side: which members are due, what they have, claiming nudge keys.

A tick reads only the members whose `next_fire_at` has come (an index range), locks them with
FOR UPDATE SKIP LOCKED on PostgreSQL so concurrent workers take disjoint sets, loads what those
members have in a handful of bulk queries, plans each one (pure), and claims the nudge keys with
INSERT ... ON CONFLICT DO NOTHING: whatever did not insert was someone else's, and is not sent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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
from luna.domain.habits import DayEntry, is_due
from luna.domain.localday import combine_local, local_date, parse_hhmm, zone
from luna.scheduler.due import (
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
from luna.services.habits import _pauses, _rule, day_start_of
from luna.services.members import Preferences
from luna.services.tasks import OPEN_STATUSES

log = structlog.get_logger(__name__)

RETRY = dt.timedelta(hours=1)
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


@dataclass(frozen=True, slots=True)
class BatchResult:
    members: int
    claimed: list[Claimed]
    decided: int
    """Nudges decided in this batch, including the ones skipped or suppressed on the spot."""


def _time(value: Any, default: dt.time | None) -> dt.time | None:
    try:
        return parse_hhmm(value) if isinstance(value, str) else default
    except ValueError:
        return default


def _preferences(raw: dict[str, Any] | None) -> Preferences:
    try:
        return Preferences.model_validate(raw or {})
    except ValidationError:
        return Preferences()


def _chore_overdue_at(c: Chore, tz: str) -> dt.datetime | None:
    """When the chore becomes overdue on the household's clock (cf. recurrence.is_overdue)."""
    if c.next_due is None:
        return None
    at = _time(c.due_time, None)
    if at is None:
        return combine_local(c.next_due + dt.timedelta(days=1), dt.time(0), tz)
    return combine_local(c.next_due, at, tz)


class ScheduleStore:
    def __init__(self, db: Database, rules: Rules) -> None:
        self.db = db
        self.rules = rules

    @property
    def _pg(self) -> bool:
        return self.db.dialect == "postgresql"

    def _insert(self) -> Any:
        return (postgresql.insert if self._pg else sqlite.insert)(Nudge)

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
        async with self.db.read() as s:
            n = await s.scalar(
                select(func.count()).select_from(MemberSchedule)
                .where(MemberSchedule.next_fire_at <= now)
            )
            return int(n or 0)

    async def next_fire(self) -> dt.datetime | None:
        async with self.db.read() as s:
            return await s.scalar(select(func.min(MemberSchedule.next_fire_at)))

    async def plan_batch(self, now: dt.datetime, limit: int) -> BatchResult:
        """Plan up to `limit` due members and claim their nudges, in one transaction."""
        async with self.db.transaction() as s:
            q = (
                select(MemberSchedule)
                .where(MemberSchedule.next_fire_at <= now)
                .order_by(MemberSchedule.next_fire_at)
                .limit(limit)
            )
            if self._pg:
                q = q.with_for_update(skip_locked=True)
            rows = list(await s.scalars(q))
            if not rows:
                return BatchResult(0, [], 0)
            states = await load_states(s, [r.member_id for r in rows], now, self.rules)
            decided: list[tuple[int, Due]] = []
            for row in rows:
                found = states.get(row.member_id)
                if found is None:
                    row.next_fire_at = None  # the member is gone; the row goes with them
                    continue
                household_id, state = found
                try:
                    p = plan(state, now, since=row.planned_through, previous_tz=row.timezone,
                             rules=self.rules)
                except ValueError:
                    log.exception("schedule_plan_failed", member_id=row.member_id)
                    row.next_fire_at = now + RETRY
                    continue
                decided.extend((household_id, d) for d in p.nudges)
                row.next_fire_at = p.next_at
                row.planned_through = now
                row.timezone = state.tz
            claimed = await self._claim(s, decided, now)
            return BatchResult(len(rows), claimed, len(decided))

    async def _claim(
        self, s: AsyncSession, decided: Sequence[tuple[int, Due]], now: dt.datetime
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
        stmt = self._insert().on_conflict_do_nothing(index_elements=["key"]).returning(
            Nudge.id, Nudge.key
        )
        won = {key: nid for nid, key in (await s.execute(stmt, values)).all()}
        out: list[Claimed] = []
        for hid, d in decided:
            nid = won.get(d.key)
            if nid is None:
                log.info("nudge_claimed_elsewhere", key=d.key)
                continue
            if d.action != "send":
                log.info("nudge_not_sent", key=d.key, action=d.action, reason=d.reason)
                continue
            out.append(Claimed(nid, d.key, hid, _member_of(d.key), d.kind, d.channel, d.due_at,
                               d.local_date, d.ref, d.step, d.items))
        return out

    async def finish(
        self, nudge_id: int, status: str, sent_at: dt.datetime, detail: dict[str, Any]
    ) -> None:
        async with self.db.transaction() as s:
            n = await s.get(Nudge, nudge_id)
            if n is None:
                return
            n.status = status
            n.sent_at = sent_at if status == "sent" else None
            n.detail = {**(n.detail or {}), **detail}

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


async def load_states(
    s: AsyncSession, member_ids: Sequence[int], now: dt.datetime, rules: Rules
) -> dict[int, tuple[int, MemberState]]:
    """Everything the planner needs for these members, in a few queries for the whole batch."""
    ids = list(member_ids)
    members = (await s.execute(
        select(Member, Household.timezone)
        .join(Household, Household.id == Member.household_id)
        .where(Member.id.in_(ids))
    )).all()
    habits = await _habits(s, ids, now, {m.id: (m.timezone or htz, m) for m, htz in members})
    tasks: dict[int, list[TaskSlot]] = defaultdict(list)
    task_rows = await s.execute(
        select(Task.id, Task.member_id, Task.title, Task.due_at, Task.created_at, Task.critical)
        .where(Task.member_id.in_(ids), Task.status.in_(OPEN_STATUSES), Task.due_at.is_not(None))
    )
    for tid, owner, title, due_at, created_at, is_critical in task_rows:
        if due_at is not None:
            tasks[owner].append(TaskSlot(tid, title, due_at, created_at, bool(is_critical)))
    household_tz = {m.household_id: htz for m, htz in members}
    chores: dict[int, list[ChoreSlot]] = defaultdict(list)
    for c in await s.scalars(
        select(Chore).where(Chore.assignee_id.in_(ids), Chore.active.is_(True),
                            Chore.next_due.is_not(None))
    ):
        at = _chore_overdue_at(c, household_tz.get(c.household_id, "UTC"))
        if at is not None and c.assignee_id is not None:
            chores[c.assignee_id].append(ChoreSlot(c.id, c.title, at))
    sent: dict[int, dict[str, Sent]] = defaultdict(dict)
    since = now - rules.lookback - dt.timedelta(days=2)
    for owner, key, status, created_at, sent_at in await s.execute(
        select(Nudge.member_id, Nudge.key, Nudge.status, Nudge.created_at, Nudge.sent_at)
        .where(Nudge.member_id.in_(ids), Nudge.due_at >= since)
    ):
        sent[owner][key] = Sent(status, sent_at or created_at)
    critical = [mid for mid, ts in tasks.items() if any(t.critical for t in ts)]
    inbound: dict[int, dt.datetime] = {}
    if critical:
        for mid, last in await s.execute(
            select(Interaction.member_id, func.max(Interaction.created_at))
            .where(Interaction.member_id.in_(critical), Interaction.direction == "inbound",
                   Interaction.created_at >= since)
            .group_by(Interaction.member_id)
        ):
            if mid is not None and last is not None:
                inbound[mid] = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
    out: dict[int, tuple[int, MemberState]] = {}
    for m, htz in members:
        prefs = _preferences(m.preferences)
        tz = m.timezone or htz
        try:
            zone(tz)
        except ValueError:
            log.warning("schedule_bad_timezone", member_id=m.id, tz=tz)
            tz = htz
        out[m.id] = (m.household_id, MemberState(
            member_id=m.id, tz=tz,
            morning=_time(prefs.morning_checkin, None),
            evening=_time(prefs.evening_checkin, None),
            prefer_voice=prefs.prefer_voice,
            quiet=Quiet(_time(prefs.quiet_hours.start, dt.time(21, 30)) or dt.time(21, 30),
                        _time(prefs.quiet_hours.end, dt.time(7)) or dt.time(7)),
            opted_out=m.sms_opt_out,
            has_phone=bool(m.phone),
            day_start=day_start_of(m),
            habits=tuple(habits.get(m.id, ())),
            tasks=tuple(tasks.get(m.id, ())),
            chores=tuple(chores.get(m.id, ())),
            sent=sent.get(m.id, {}),
            last_inbound_at=inbound.get(m.id),
        ))
    return out


async def _habits(
    s: AsyncSession, ids: list[int], now: dt.datetime, owners: dict[int, tuple[str, Member]]
) -> dict[int, list[HabitSlot]]:
    rows = list(await s.scalars(
        select(Habit).where(Habit.member_id.in_(ids), Habit.active.is_(True),
                            Habit.reminder_time.is_not(None))
    ))
    if not rows:
        return {}
    oldest = now.date() - dt.timedelta(days=12)
    entries: dict[int, list[DayEntry]] = defaultdict(list)
    for habit_id, day, value, skipped in await s.execute(
        select(HabitLog.habit_id, HabitLog.local_date, HabitLog.value, HabitLog.skipped)
        .where(HabitLog.habit_id.in_([h.id for h in rows]), HabitLog.local_date >= oldest)
        .order_by(HabitLog.local_date)
    ):
        entries[habit_id].append(DayEntry(day, value, skipped))
    out: dict[int, list[HabitSlot]] = defaultdict(list)
    for h in rows:
        reminder = _time(h.reminder_time, None)
        owner = owners.get(h.member_id)
        if reminder is None or owner is None:
            continue
        tz, member = owner
        try:
            today = local_date(now, tz, day_start_of(member))
        except ValueError:
            continue
        rule, pauses, logs = _rule(h), _pauses(h), entries.get(h.id, [])
        days = [today + dt.timedelta(days=i) for i in range(-3, 3)]
        # "Due" ignores the day's own log, so a logged day shows as suppressed, not as absent.
        due = frozenset(d for d in days if is_due(rule, d, [e for e in logs if e.day != d],
                                                   pauses))
        logged = frozenset(e.day for e in logs if e.day in days)
        out[h.member_id].append(HabitSlot(h.id, h.name, reminder, h.created_at, due, logged))
    return out
