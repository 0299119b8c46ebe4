"""Daily check-ins: one row per member and local day of sleep, mood, energy and exercise.

Check-ins arrive in pieces ("slept badly" in the morning, "ran 30 minutes" at night), so every
write merges into the day's row instead of replacing it.
"""

from __future__ import annotations

import builtins
import datetime as dt
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Row, Select, Table, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import DailyCheckIn
from luna.errors import InvalidInput
from luna.services.access import Actor, member_for_read, member_for_write, read_scope
from luna.services.habits import member_today

SCORES = ("sleep_quality", "mood", "energy")
MAX_EXERCISE_MINUTES = 24 * 60


class CheckinOut(BaseModel):
    member_id: int
    date: dt.date
    sleep_quality: int | None
    mood: int | None
    energy: int | None
    exercise_minutes: int | None
    notes: str | None


def checkin_out(row: DailyCheckIn | Row[Any]) -> CheckinOut:
    return CheckinOut(
        member_id=row.member_id, date=row.local_date, sleep_quality=row.sleep_quality,
        mood=row.mood, energy=row.energy, exercise_minutes=row.exercise_minutes, notes=row.notes,
    )


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"{field} must be a whole number from {lo} to {hi}")
    return value


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """The given (non-None) fields, validated; InvalidInput for anything out of range."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in SCORES:
            out[key] = _int(value, key, 1, 10)
        elif key == "exercise_minutes":
            out[key] = _int(value, key, 0, MAX_EXERCISE_MINUTES)
        elif key == "notes":
            text = str(value).strip()
            if text:
                out[key] = text
        else:
            raise InvalidInput(f"unknown check-in field {key!r}")
    if not out:
        raise InvalidInput("nothing to record: give sleep_quality, mood, energy, "
                           "exercise_minutes or notes")
    return out


_CHECKINS: Table = DailyCheckIn.__table__  # type: ignore[assignment]
_KEYS = ("household_id", "member_id", "local_date", "updated_at")


@lru_cache(maxsize=64)
def _upsert(dialect: str, fields: tuple[str, ...]) -> ReturningInsert[Any]:
    """The merge of `fields` into a member's row for a day, built once per dialect and set of
    fields (a check-in is one of the commonest texts), returning the merged row."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(_CHECKINS).values({k: bindparam(f"v_{k}") for k in (*_KEYS, *fields)})
    merged: dict[str, Any] = {k: stmt.excluded[k] for k in fields if k != "notes"}
    if "notes" in fields:
        merged["notes"] = case(
            (func.coalesce(_CHECKINS.c.notes, "") == "", stmt.excluded.notes),
            else_=_CHECKINS.c.notes + "\n" + stmt.excluded.notes,
        )
    merged["updated_at"] = stmt.excluded.updated_at
    return stmt.on_conflict_do_update(
        index_elements=["member_id", "local_date"], set_=merged
    ).returning(*_CHECKINS.c)


_DAY_ROW = (
    select(DailyCheckIn)
    .where(DailyCheckIn.member_id == bindparam("m"), DailyCheckIn.local_date == bindparam("day"))
    .execution_options(populate_existing=True)
)


@lru_cache(maxsize=8)
def _list_query(by_member: bool, since: bool, until: bool) -> Select[DailyCheckIn]:
    """Built once per filter combination, values bound: briefings and undo snapshots list
    check-ins on most turns."""
    scope = DailyCheckIn.member_id if by_member else DailyCheckIn.household_id
    q = select(DailyCheckIn).where(scope == bindparam("scope"))
    if since:
        q = q.where(DailyCheckIn.local_date >= bindparam("start"))
    if until:
        q = q.where(DailyCheckIn.local_date <= bindparam("end"))
    return q.order_by(DailyCheckIn.local_date, DailyCheckIn.member_id)


class CheckinService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def upsert(
        self,
        actor: Actor,
        member_id: int | None,
        day: dt.date | None = None,
        *,
        sleep_quality: int | None = None,
        mood: int | None = None,
        energy: int | None = None,
        exercise_minutes: int | None = None,
        notes: str | None = None,
    ) -> CheckinOut:
        """Merge the given fields into the member's row for `day` (default: their today)."""
        values = _clean({
            "sleep_quality": sleep_quality, "mood": mood, "energy": energy,
            "exercise_minutes": exercise_minutes, "notes": notes,
        })
        async with self.db.transaction() as s:
            return await self._merge(s, actor, member_id, day, values)

    async def _merge(
        self,
        s: AsyncSession,
        actor: Actor,
        member_id: int | None,
        day: dt.date | None,
        values: dict[str, Any],
    ) -> CheckinOut:
        now = self.clock.now()
        m = await member_for_write(s, actor, member_id)
        today = await member_today(s, m, now)
        on = today if day is None else day
        if on > today:
            raise InvalidInput("a check-in can't be recorded for a day that hasn't come yet")
        # One INSERT ... ON CONFLICT DO UPDATE: concurrent check-ins of the same day merge
        # atomically in the database, with no read-then-write window to lose a field in. It
        # returns the merged row, so nothing is read back.
        row = (await s.execute(_upsert(self.db.dialect, tuple(sorted(values))), {
            "v_household_id": m.household_id, "v_member_id": m.id, "v_local_date": on,
            "v_updated_at": now, **{f"v_{k}": v for k, v in values.items()},
        })).one()
        return checkin_out(row)

    async def list(
        self,
        actor: Actor,
        member_id: int | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> builtins.list[CheckinOut]:
        if start is not None and end is not None and end < start:
            raise InvalidInput("'to' must not be before 'from'")
        async with self.db.read() as s:
            by_member, scope = await read_scope(s, actor, member_id)
            q = _list_query(by_member, start is not None, end is not None)
            rows = await s.scalars(q, {"scope": scope, "start": start, "end": end})
            return [checkin_out(r) for r in rows]

    async def today(self, actor: Actor, member_id: int | None = None) -> CheckinOut | None:
        """The member's check-in for their current local day, or None if nothing is recorded."""
        async with self.db.read() as s:
            m = await member_for_read(s, actor, member_id)
            row = await self._row(s, m.id, await member_today(s, m, self.clock.now()))
            return checkin_out(row) if row else None

    async def _row(self, s: AsyncSession, member_id: int, day: dt.date) -> DailyCheckIn | None:
        row: DailyCheckIn | None = await s.scalar(_DAY_ROW, {"m": member_id, "day": day})
        return row

