"""Habits: what a member wants to do regularly, their logs per local day, streaks and strength.

Streaks and strength are never stored: they are recomputed from the logs on every read with the
pure rules in `luna.domain.habits`, so a correction to an old log can never leave them stale.
"""

from __future__ import annotations

import builtins
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Habit, HabitLog, Household, Member
from luna.domain.habits import (
    WEEKDAY_NAMES,
    DayEntry,
    FrequencyKind,
    HabitRule,
    Pause,
    completion_rate,
    is_due,
    streaks,
    strength,
)
from luna.domain.habits import TargetKind as RuleTarget
from luna.domain.localday import DEFAULT_DAY_START, local_date, parse_hhmm, zone
from luna.errors import Conflict, InvalidInput, NotFound
from luna.services.access import (
    Actor,
    loaded_members,
    member_for_read,
    member_for_write,
    read_scope,
    require_household,
)
from luna.services.matching import match_or_none
from luna.services.zones import member_tz

Frequency = Literal["daily", "times_per_week", "weekdays"]
TargetKind = Literal["at_least", "at_most"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HabitCategory = Literal[
    "health", "fitness", "mindfulness", "learning", "productivity", "relationships", "personal",
    "other",
]
Period = Literal["week", "month", "year"]
PERIOD_DAYS: dict[str, int] = {"week": 7, "month": 30, "year": 365}
BACKDATE_DAYS = 7
"""How far back a log may be dated: enough for "I forgot to tell you last weekend"."""


class HabitOut(BaseModel):
    id: int
    member_id: int
    name: str
    category: HabitCategory
    frequency: Frequency
    times_per_week: int | None
    weekdays: list[Weekday]
    active: bool
    paused: bool
    unit: str | None
    target: float | None
    target_kind: TargetKind
    reminder_time: str | None
    streak_current: int
    streak_longest: int
    streak_unit: Literal["days", "weeks"]
    strength: float
    completion_rate_7d: float
    logged_today: bool
    due_today: bool
    created_at: dt.datetime


class HabitLogOut(BaseModel):
    id: int
    habit_id: int
    date: dt.date
    value: float
    skipped: bool
    notes: str | None
    logged_at: dt.datetime


class HabitLogResult(BaseModel):
    """A log together with the habit as it stands after it, for the caller to congratulate."""

    log: HabitLogOut
    habit: HabitOut
    created: bool


class HabitStats(BaseModel):
    habit_id: int
    name: str
    unit: str | None
    streak_current: int
    streak_longest: int
    streak_unit: Literal["days", "weeks"]
    strength: float
    completion_rate: float
    logs: int
    skipped: int
    total_value: float


class HabitSummary(BaseModel):
    member_id: int
    period: Period
    start: dt.date
    end: dt.date
    habits: list[HabitStats]


# --- the member's local day -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Owner:
    """What turning an instant into a member's local day needs."""

    tz: str
    day_start: dt.time

    def today(self, now: dt.datetime) -> dt.date:
        return local_date(now, self.tz, self.day_start)


def day_start_of(member: Member) -> dt.time:
    raw = (member.preferences or {}).get("day_start")
    try:
        return parse_hhmm(raw) if isinstance(raw, str) else DEFAULT_DAY_START
    except ValueError:
        return DEFAULT_DAY_START


class HabitName(NamedTuple):
    id: int
    name: str
    unit: str | None


async def member_today(s: AsyncSession, member: Member, now: dt.datetime) -> dt.date:
    """The member's current local day, which turns over at their `day_start`, not at midnight."""
    return Owner(await member_tz(s, member), day_start_of(member)).today(now)


async def _owners(s: AsyncSession, member_ids: set[int]) -> dict[int, Owner]:
    if not member_ids:
        return {}
    known = loaded_members(s, member_ids)
    if known is not None:
        return {m.id: Owner(m.timezone or m.household.timezone, day_start_of(m))
                for m in known.values()}
    rows = await s.execute(
        select(Member, Household.timezone)
        .join(Household, Household.id == Member.household_id)
        .where(Member.id.in_(member_ids))
    )
    return {m.id: Owner(m.timezone or htz, day_start_of(m)) for m, htz in rows}


# --- rows to domain values --------------------------------------------------------------------


def _rule(h: Habit) -> HabitRule:
    return HabitRule(
        kind=FrequencyKind(h.frequency),
        times_per_week=h.times_per_week,
        weekdays=frozenset(WEEKDAY_NAMES.index(d) for d in h.weekdays or []),
        target=h.target,
        target_kind=RuleTarget(h.target_kind),
    )


def _pauses(h: Habit) -> list[Pause]:
    return [
        Pause(dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"]) if p.get("end")
              else None)
        for p in h.pauses or []
    ]


def _paused_on(pauses: Sequence[Pause], day: dt.date) -> bool:
    return any(p.start <= day and (p.end is None or day <= p.end) for p in pauses)


def _start_day(h: Habit, owner: Owner, entries: Sequence[DayEntry]) -> dt.date:
    """The habit's first day: its creation, or an earlier backdated log."""
    created = owner.today(h.created_at)
    return min([created, *(e.day for e in entries)])


def _settled_end(
    rule: HabitRule, entries: Sequence[DayEntry], today: dt.date, pauses: Sequence[Pause]
) -> dt.date:
    """Today counts towards a rate only once it is met; an unfinished day is not a miss."""
    met_today = completion_rate(rule, entries, today, today, pauses) >= 1.0
    return today if met_today else today - dt.timedelta(days=1)


def _rate(
    rule: HabitRule, entries: Sequence[DayEntry], first: dt.date, today: dt.date, days: int,
    pauses: Sequence[Pause],
) -> float:
    end = _settled_end(rule, entries, today, pauses)
    start = max(first, end - dt.timedelta(days=days - 1))
    if end < start:
        return 0.0
    return round(completion_rate(rule, entries, start, end, pauses), 3)


def _local(value: dt.datetime, tz: str) -> dt.datetime:
    return value.astimezone(zone(tz))


def log_out(row: HabitLog, tz: str) -> HabitLogOut:
    return HabitLogOut(
        id=row.id, habit_id=row.habit_id, date=row.local_date, value=row.value,
        skipped=row.skipped, notes=row.notes, logged_at=_local(row.logged_at, tz),
    )


def habit_out(h: Habit, owner: Owner, entries: Sequence[DayEntry], now: dt.datetime) -> HabitOut:
    today = owner.today(now)
    rule = _rule(h)
    pauses = _pauses(h)
    first = _start_day(h, owner, entries)
    st = streaks(rule, entries, today, pauses)
    return HabitOut(
        id=h.id, member_id=h.member_id, name=h.name,
        category=h.category,
        frequency=h.frequency,
        times_per_week=h.times_per_week,
        weekdays=list(h.weekdays or []),
        active=h.active,
        paused=_paused_on(pauses, today),
        unit=h.unit, target=h.target,
        target_kind=h.target_kind,
        reminder_time=h.reminder_time,
        streak_current=st.current, streak_longest=st.longest, streak_unit=st.unit,
        strength=round(strength(rule, entries, today, pauses, start=first), 3),
        completion_rate_7d=_rate(rule, entries, first, today, 7, pauses),
        logged_today=any(e.day == today for e in entries),
        due_today=h.active and is_due(rule, today, entries, pauses),
        created_at=_local(h.created_at, owner.tz),
    )


# Built once (their values are bound parameters): every habit list and briefing runs them.
_ENTRIES = (
    select(HabitLog.habit_id, HabitLog.local_date, HabitLog.value, HabitLog.skipped)
    .where(HabitLog.habit_id.in_(bindparam("ids", expanding=True)))
    .order_by(HabitLog.local_date)
)


@lru_cache(maxsize=4)
def _list_query(by_member: bool, active_only: bool) -> Select[Habit]:
    q = select(Habit).where((Habit.member_id if by_member else Habit.household_id)
                            == bindparam("scope"))
    if active_only:
        q = q.where(Habit.active.is_(True))
    return q.order_by(Habit.member_id, Habit.name, Habit.id)


def open_today(h: Habit, owner: Owner, entries: Sequence[DayEntry], now: dt.datetime) -> bool:
    """Still to do on the owner's day: due, not logged, not paused (HabitOut's due_today,
    logged_today and paused, without its history figures)."""
    today = owner.today(now)
    pauses = _pauses(h)
    return (bool(h.active) and not _paused_on(pauses, today)
            and not any(e.day == today for e in entries)
            and is_due(_rule(h), today, entries, pauses))


async def _entries(s: AsyncSession, habit_ids: Iterable[int]) -> dict[int, list[DayEntry]]:
    """Every log of these habits in one query, as domain entries grouped by habit."""
    ids = list(habit_ids)
    out: dict[int, list[DayEntry]] = defaultdict(list)
    if not ids:
        return out
    rows = await s.execute(_ENTRIES, {"ids": ids})
    for habit_id, day, value, skipped in rows:
        out[habit_id].append(DayEntry(day, value, skipped))
    return out


# --- validation -------------------------------------------------------------------------------


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}")
    return str(value)


def _name(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidInput("a habit needs a name")
    if len(text) > 200:
        raise InvalidInput("a habit name is at most 200 characters")
    return text


def _reminder(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return parse_hhmm(str(value)).strftime("%H:%M")
    except ValueError as exc:
        raise InvalidInput(f"reminder_time must be HH:MM, got {value!r}") from exc


def _weekdays(values: Iterable[Any]) -> list[str]:
    names = [str(v).strip().lower()[:3] for v in values]
    unknown = [n for n in names if n not in WEEKDAY_NAMES]
    if unknown:
        raise InvalidInput(f"unknown weekday {unknown[0]!r}; use mon, tue, ... sun")
    return [d for d in WEEKDAY_NAMES if d in names]


def _value(value: float | None) -> float:
    v = 1.0 if value is None else float(value)
    if not math.isfinite(v) or v < 0:
        raise InvalidInput("a logged value must be a number of zero or more")
    return v


def _check_rule(h: Habit) -> None:
    """Validate the habit's schedule as a whole, and drop fields its frequency does not use."""
    if h.frequency != "times_per_week":
        h.times_per_week = None
    if h.frequency != "weekdays":
        h.weekdays = []
    if h.target is not None and h.target_kind not in get_args(TargetKind):
        raise InvalidInput("target_kind must be at_least or at_most")
    try:
        _rule(h)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


async def _ensure_unique(s: AsyncSession, member_id: int, name: str, habit_id: int | None) -> None:
    names = await s.execute(
        select(Habit.id, Habit.name).where(Habit.member_id == member_id, Habit.active.is_(True))
    )
    for other_id, other in names:
        if other_id != habit_id and other.casefold() == name.casefold():
            raise Conflict(f"there is already a habit called {other!r}")


def _pause_changes(h: Habit, today: dt.date, paused: bool | None, until: dt.date | None) -> None:
    """Open, extend or close the pause covering today; pauses are inclusive local-day ranges."""
    if until is not None and until < today:
        raise InvalidInput("a pause cannot end in the past")
    pauses = [dict(p) for p in h.pauses or []]
    current = next(
        (p for p in pauses if dt.date.fromisoformat(p["start"]) <= today
         and (p.get("end") is None or today <= dt.date.fromisoformat(p["end"]))),
        None,
    )
    end = until.isoformat() if until else None
    if paused is False:
        if current is not None:
            last = today - dt.timedelta(days=1)
            if last < dt.date.fromisoformat(current["start"]):
                pauses.remove(current)
            else:
                current["end"] = last.isoformat()
    elif current is not None:
        if until is not None:
            current["end"] = end
    else:
        pauses.append({"start": today.isoformat(), "end": end})
    h.pauses = pauses


# --- the service ------------------------------------------------------------------------------

_NULLABLE = {"unit", "target", "reminder_time", "times_per_week", "pause_until"}


class HabitService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(
        self,
        actor: Actor,
        *,
        name: str,
        member_id: int | None = None,
        category: HabitCategory = "health",
        frequency: Frequency = "daily",
        times_per_week: int | None = None,
        weekdays: Sequence[str] = (),
        unit: str | None = None,
        target: float | None = None,
        target_kind: TargetKind = "at_least",
        reminder_time: str | None = None,
    ) -> HabitOut:
        now = self.clock.now()
        h = Habit(
            name=_name(name),
            category=_choice(category, get_args(HabitCategory), "category"),
            frequency=_choice(frequency, get_args(Frequency), "frequency"),
            times_per_week=times_per_week, weekdays=_weekdays(weekdays),
            unit=(unit or "").strip() or None, target=target,
            target_kind=_choice(target_kind, get_args(TargetKind), "target_kind"),
            reminder_time=_reminder(reminder_time), active=True, pauses=[], created_at=now,
        )
        _check_rule(h)
        async with self.db.transaction() as s:
            m = await member_for_write(s, actor, member_id)
            await _ensure_unique(s, m.id, h.name, None)
            h.household_id, h.member_id = m.household_id, m.id
            s.add(h)
            await s.flush()
            owner = Owner(await member_tz(s, m), day_start_of(m))
            return habit_out(h, owner, [], now)

    async def list(
        self, actor: Actor, *, member_id: int | None = None, include_inactive: bool = False
    ) -> list[HabitOut]:
        async with self.db.read() as s:
            by_member, scope = await read_scope(s, actor, member_id)
            q = _list_query(by_member, not include_inactive)
            return await self._outs(s, list(await s.scalars(q, {"scope": scope})))

    async def still_open(self, actor: Actor, member_id: int) -> builtins.list[HabitOut]:
        """The member's habits still to do today, as `list()` shows them: the figures (streaks,
        strength, rates) are worked out for those alone."""
        async with self.db.read() as s:
            m = await member_for_read(s, actor, member_id)
            habits = list(await s.scalars(_list_query(True, True), {"scope": m.id}))
            return await self._outs(s, habits, only_open=True)

    async def get(self, actor: Actor, habit_id: int) -> HabitOut:
        async with self.db.read() as s:
            h = await self._load(s, actor, habit_id)
            return (await self._outs(s, [h]))[0]

    async def update(self, actor: Actor, habit_id: int, changes: dict[str, Any]) -> HabitOut:
        now = self.clock.now()
        async with self.db.transaction() as s:
            h = await self._load(s, actor, habit_id, write=True)
            owner = (await _owners(s, {h.member_id}))[h.member_id]
            pause: bool | None = None
            pause_until: dt.date | None = None
            for key, value in changes.items():
                if value is None and key not in _NULLABLE:
                    continue  # PATCH: a null for a required field leaves it as it is
                if key == "name":
                    h.name = _name(value)
                elif key in {"category", "frequency", "target_kind"}:
                    options = {"category": HabitCategory, "frequency": Frequency,
                               "target_kind": TargetKind}[key]
                    setattr(h, key, _choice(value, get_args(options), key))
                elif key == "weekdays":
                    h.weekdays = _weekdays(value)
                elif key == "reminder_time":
                    h.reminder_time = _reminder(value)
                elif key == "unit":
                    h.unit = (value or "").strip() or None
                elif key in {"target", "times_per_week"}:
                    setattr(h, key, value)
                elif key == "active":
                    h.active = bool(value)
                elif key == "paused":
                    pause = bool(value)
                elif key == "pause_until":
                    pause_until = value
                else:
                    raise InvalidInput(f"unknown habit field {key!r}")
            _check_rule(h)
            if pause is not None or pause_until is not None:
                _pause_changes(h, owner.today(now), pause, pause_until)
            if h.active and ({"name", "active"} & changes.keys()):
                await _ensure_unique(s, h.member_id, h.name, h.id)
            await s.flush()
            entries = (await _entries(s, [h.id]))[h.id]
            return habit_out(h, owner, entries, now)

    async def delete(self, actor: Actor, habit_id: int) -> None:
        async with self.db.transaction() as s:
            h = await self._load(s, actor, habit_id, write=True)
            await s.delete(h)

    async def log(
        self,
        actor: Actor,
        habit_id: int,
        value: float | None = 1.0,
        notes: str | None = None,
        day: dt.date | None = None,
        skipped: bool = False,
    ) -> HabitLogOut:
        return (await self._log(actor, habit_id, value, notes, day, skipped)).log

    async def list_logs(
        self,
        actor: Actor,
        habit_id: int,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> builtins.list[HabitLogOut]:
        if start is not None and end is not None and end < start:
            raise InvalidInput("'to' must not be before 'from'")
        async with self.db.read() as s:
            h = await self._load(s, actor, habit_id)
            q = select(HabitLog).where(HabitLog.habit_id == h.id)
            if start is not None:
                q = q.where(HabitLog.local_date >= start)
            if end is not None:
                q = q.where(HabitLog.local_date <= end)
            rows = await s.scalars(q.order_by(HabitLog.local_date, HabitLog.logged_at, HabitLog.id))
            tz = (await _owners(s, {h.member_id}))[h.member_id].tz
            return [log_out(r, tz) for r in rows]

    async def find(self, actor: Actor, member_id: int | None, name: str) -> HabitOut:
        """The member's active habit whose name best matches what was said."""
        found = await self._match(actor, member_id, name)
        if found is None:
            raise NotFound(f"no habit matching {name!r}")
        return await self.get(actor, found)

    async def log_by_name(
        self,
        actor: Actor,
        member_id: int | None,
        name: str,
        value: float | None = None,
        notes: str | None = None,
        day: dt.date | None = None,
        create_if_missing: bool = True,
        skipped: bool = False,
    ) -> HabitLogResult:
        """Log the habit that matches `name`; a habit nobody set up yet is created as daily."""
        _name(name)
        found = await self._match(actor, member_id, name)
        created = False
        if found is None:
            if not create_if_missing:
                raise NotFound(f"no habit matching {name!r}")
            try:
                found = (
                    await self.create(actor, name=name, member_id=member_id, category="other")
                ).id
                created = True
            except Conflict:
                # Someone created it between our lookup and our insert: log to theirs.
                found = (await self.find(actor, member_id, name)).id
        result = await self._log(actor, found, value, notes, day, skipped)
        return HabitLogResult(log=result.log, habit=result.habit, created=created)

    async def summary(
        self, actor: Actor, member_id: int | None = None, period: Period = "week"
    ) -> HabitSummary:
        days = PERIOD_DAYS.get(period)
        if days is None:
            raise InvalidInput("period must be week, month or year")
        now = self.clock.now()
        async with self.db.read() as s:
            m = await member_for_read(s, actor, member_id)
            habits = list(await s.scalars(
                select(Habit).where(Habit.member_id == m.id, Habit.active.is_(True))
                .order_by(Habit.name, Habit.id)
            ))
            owner = (await _owners(s, {m.id}))[m.id]
            today = owner.today(now)
            start = today - dt.timedelta(days=days - 1)
            entries = await _entries(s, [h.id for h in habits])
            stats = [_stats(h, owner, entries[h.id], start, today, days) for h in habits]
            return HabitSummary(member_id=m.id, period=period, start=start, end=today,
                                habits=stats)

    # --- internals ----------------------------------------------------------------------------

    async def _match(self, actor: Actor, member_id: int | None, name: str) -> int | None:
        """The id of the member's active habit that `name` means; names alone are compared, so
        no streaks are computed for the habits that were not meant."""
        if name.strip().isdigit():
            return (await self.get(actor, int(name))).id
        rows = await self.names(actor, member_id)
        found = match_or_none(name, rows, lambda r: r.name, what="habit")
        return None if found is None else found.id

    async def names(self, actor: Actor, member_id: int | None = None) -> builtins.list[HabitName]:
        """The member's active habits by name, without their figures (for matching words)."""
        target = member_id if member_id is not None else actor.member_id
        if target is None:
            raise InvalidInput("member_id is required")
        async with self.db.read() as s:
            m = await member_for_read(s, actor, target)
            rows = await s.execute(
                select(Habit.id, Habit.name, Habit.unit)
                .where(Habit.member_id == m.id, Habit.active.is_(True))
                .order_by(Habit.name, Habit.id)
            )
            return [HabitName(int(i), str(n), u) for i, n, u in rows]

    async def _log(
        self,
        actor: Actor,
        habit_id: int,
        value: float | None,
        notes: str | None,
        day: dt.date | None,
        skipped: bool,
    ) -> HabitLogResult:
        amount = 0.0 if skipped else _value(value)
        now = self.clock.now()
        async with self.db.transaction() as s:
            h = await self._load(s, actor, habit_id, write=True)
            owner = (await _owners(s, {h.member_id}))[h.member_id]
            today = owner.today(now)
            on = today if day is None else day
            if on > today:
                raise InvalidInput("a habit can't be logged for a day that hasn't come yet")
            if on < today - dt.timedelta(days=BACKDATE_DAYS):
                raise InvalidInput(f"a habit can be logged at most {BACKDATE_DAYS} days back")
            row = HabitLog(
                habit_id=h.id, member_id=h.member_id, local_date=on, value=amount,
                skipped=skipped, notes=(notes or "").strip() or None, logged_at=now,
            )
            s.add(row)
            await s.flush()
            entries = (await _entries(s, [h.id]))[h.id]
            return HabitLogResult(
                log=log_out(row, owner.tz), habit=habit_out(h, owner, entries, now),
                created=False,
            )

    async def _outs(
        self, s: AsyncSession, habits: Sequence[Habit], *, only_open: bool = False
    ) -> builtins.list[HabitOut]:
        now = self.clock.now()
        owners = await _owners(s, {h.member_id for h in habits})
        entries = await _entries(s, [h.id for h in habits])
        return [habit_out(h, owners[h.member_id], entries[h.id], now) for h in habits
                if not only_open or open_today(h, owners[h.member_id], entries[h.id], now)]

    async def _load(
        self, s: AsyncSession, actor: Actor, habit_id: int, *, write: bool = False
    ) -> Habit:
        h = await s.get(Habit, habit_id)
        if h is None:
            raise NotFound(f"habit {habit_id} not found")
        require_household(actor, h.household_id)
        if write:
            await member_for_write(s, actor, h.member_id)
        else:
            await member_for_read(s, actor, h.member_id)
        return h


def _stats(
    h: Habit, owner: Owner, entries: Sequence[DayEntry], start: dt.date, today: dt.date,
    days: int,
) -> HabitStats:
    in_period = [e for e in entries if start <= e.day <= today]
    done = [e for e in in_period if not e.skipped]
    rule = _rule(h)
    pauses = _pauses(h)
    first = _start_day(h, owner, entries)
    st = streaks(rule, entries, today, pauses)
    return HabitStats(
        habit_id=h.id, name=h.name, unit=h.unit,
        streak_current=st.current, streak_longest=st.longest, streak_unit=st.unit,
        strength=round(strength(rule, entries, today, pauses, start=first), 3),
        completion_rate=_rate(rule, entries, first, today, days, pauses),
        logs=len(done), skipped=len(in_period) - len(done),
        total_value=round(sum(e.value for e in done), 3),
    )
