"""Whose clock a thing is read on: a household's timezone, or a member's own (defaulting to it)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from luna.db.models import Household, Member
from luna.errors import NotFound
from luna.services.access import loaded_members

# A household's timezone is set when it is made and no API changes it, yet nearly every read
# needs it; so it is remembered per database (engine), saving a query on most calls.
_HOUSEHOLD_TZ: WeakKeyDictionary[Engine, dict[int, str]] = WeakKeyDictionary()


def _memo(s: AsyncSession | AsyncConnection) -> dict[int, str] | None:
    engine = getattr(s if isinstance(s, AsyncConnection) else s.bind, "sync_engine", None)
    if not isinstance(engine, Engine):
        return None
    return _HOUSEHOLD_TZ.setdefault(engine, {})


async def household_tz(s: AsyncSession | AsyncConnection, household_id: int) -> str:
    memo = _memo(s)
    if memo is not None and household_id in memo:
        return memo[household_id]
    tz = await s.scalar(select(Household.timezone).where(Household.id == household_id))
    if tz is None:
        raise NotFound(f"household {household_id} not found")
    if memo is not None:
        memo[household_id] = tz
    return tz


def forget_household_tz(s: AsyncSession, household_id: int) -> None:
    """Call after changing a household's timezone (or deleting it)."""
    memo = _memo(s)
    if memo is not None:
        memo.pop(household_id, None)


async def member_tz(s: AsyncSession, m: Member) -> str:
    # The household comes joined with the member, so this costs no query.
    return m.timezone or m.household.timezone


async def member_tz_map(s: AsyncSession, member_ids: set[int]) -> dict[int, str]:
    """Each member's effective timezone, in one query."""
    if not member_ids:
        return {}
    known = loaded_members(s, member_ids)
    if known is not None:
        return {mid: m.timezone or m.household.timezone for mid, m in known.items()}
    rows = await s.execute(
        select(Member.id, Member.timezone, Household.timezone)
        .join(Household, Household.id == Member.household_id)
        .where(Member.id.in_(member_ids))
    )
    return {mid: mtz or htz for mid, mtz, htz in rows}
