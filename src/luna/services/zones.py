"""Whose clock a thing is read on: a household's timezone, or a member's own (defaulting to it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.db.models import Household, Member
from luna.errors import NotFound


async def household_tz(s: AsyncSession, household_id: int) -> str:
    tz = await s.scalar(select(Household.timezone).where(Household.id == household_id))
    if tz is None:
        raise NotFound(f"household {household_id} not found")
    return tz


async def member_tz(s: AsyncSession, m: Member) -> str:
    # The household comes joined with the member, so this costs no query.
    return m.timezone or m.household.timezone


async def member_tz_map(s: AsyncSession, member_ids: set[int]) -> dict[int, str]:
    """Each member's effective timezone, in one query."""
    if not member_ids:
        return {}
    rows = await s.execute(
        select(Member.id, Member.timezone, Household.timezone)
        .join(Household, Household.id == Member.household_id)
        .where(Member.id.in_(member_ids))
    )
    return {mid: mtz or htz for mid, mtz, htz in rows}
