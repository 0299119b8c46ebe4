"""Keeps `member_schedules` honest without the scheduler scanning everyone.

Whatever changes a member's day - their settings or timezone, a habit, a task, a chore assigned
to them, their household's timezone - marks the member for planning at the next tick, in the same
transaction as the change. New members get their schedule row the same way. This hooks the ORM's
flush, so the services that own those tables need to know nothing about the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from luna.db.models import Chore, Habit, Household, Member, MemberSchedule, Task

STALE = datetime(2000, 1, 1, tzinfo=UTC)
"""A `next_fire_at` in the past: plan this member at the next tick."""

_MEMBER_FIELDS = ("preferences", "timezone", "sms_opt_out", "phone", "role")
_TABLE: Table = MemberSchedule.__table__  # type: ignore[assignment]


def _history_ids(obj: object, attr: str) -> Iterable[int]:
    """The attribute's current value and, if it changed in this flush, its old one."""
    hist = inspect(obj).attrs[attr].history
    for value in (*hist.added, *hist.unchanged, *hist.deleted):
        if isinstance(value, int):
            yield value


def _changed(obj: object, fields: Iterable[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[f].history.has_changes() for f in fields)


def touched(session: Session) -> tuple[list[Member], set[int], set[int]]:
    """New members, members whose day changed, households whose timezone changed."""
    new_members: list[Member] = []
    members: set[int] = set()
    households: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Member):
            new_members.append(obj)
        elif isinstance(obj, Task | Habit):
            members.add(obj.member_id)
        elif isinstance(obj, Chore) and obj.assignee_id is not None:
            members.add(obj.assignee_id)
    for obj in (*session.dirty, *session.deleted):
        deleted = obj in session.deleted
        if isinstance(obj, Member):
            if not deleted and _changed(obj, _MEMBER_FIELDS):
                members.add(obj.id)
        elif isinstance(obj, Household):
            if not deleted and _changed(obj, ("timezone",)):
                households.add(obj.id)
        elif isinstance(obj, Task | Habit):
            members.update(_history_ids(obj, "member_id"))
        elif isinstance(obj, Chore):
            members.update(_history_ids(obj, "assignee_id"))
    return new_members, members, households


@event.listens_for(Session, "after_flush")
def _mark_schedules(session: Session, _flush_context: Any) -> None:
    new_members, members, households = touched(session)
    if not (new_members or members or households):
        return
    conn = session.connection()
    if new_members:
        conn.execute(insert(_TABLE), [
            {"member_id": m.id, "next_fire_at": STALE} for m in new_members
        ])
    stale = update(_TABLE).values(next_fire_at=STALE)
    if members:
        conn.execute(stale.where(_TABLE.c.member_id.in_(sorted(members))))
    if households:
        in_household = select(Member.id).where(Member.household_id.in_(sorted(households)))
        conn.execute(stale.where(_TABLE.c.member_id.in_(in_household)))


_STALE_ONE = update(_TABLE).where(_TABLE.c.member_id == bindparam("member")).values(
    next_fire_at=STALE
)


def mark_for_planning(conn: Connection, member_id: int) -> None:
    """What the flush hook does, for a service that writes a member's task or habit with a
    plain INSERT (no flush): the member is planned again at the next tick."""
    conn.execute(_STALE_ONE, {"member": member_id})
