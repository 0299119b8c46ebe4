"""Who may act for whom: the household boundary and the child rule, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.db.models import Household, Member
from luna.errors import Forbidden, InvalidInput, NotFound

Role = Literal["adult", "child", "admin"]


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller: a member of a household, or the server admin."""

    household_id: int | None
    member_id: int | None
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_child(self) -> bool:
        return self.role == "child"


_LOADED_MEMBERS = "luna.loaded_members"

ADMIN = Actor(household_id=None, member_id=None, role="admin")


def member_actor(member: Member) -> Actor:
    role: Role = "child" if member.role == "child" else "adult"
    return Actor(household_id=member.household_id, member_id=member.id, role=role)


def require_household(actor: Actor, household_id: int) -> None:
    """Another household's things are invisible: they answer NotFound, never Forbidden."""
    if not actor.is_admin and actor.household_id != household_id:
        raise NotFound("not found")


# Built once: nearly every service call loads its member, and `Session.get` builds its query
# anew each time. Not flushing first is what `get` does too (it answers from the session).
_MEMBER_BY_ID = (
    select(Member).where(Member.id == bindparam("member_id"))
    .execution_options(autoflush=False)
)


async def load_member(session: AsyncSession, actor: Actor, member_id: int) -> Member:
    # The identity map holds rows weakly, so a session shared by several service calls
    # (Database.shared_reads) would load the member again for each; keep it for the session.
    loaded: dict[int, Member] = session.info.setdefault(_LOADED_MEMBERS, {})
    member = loaded.get(member_id) or (
        await session.scalars(_MEMBER_BY_ID, {"member_id": member_id})).one_or_none()
    if member is None:
        raise NotFound(f"member {member_id} not found")
    require_household(actor, member.household_id)
    loaded[member_id] = member
    return member


def loaded_members(session: AsyncSession, member_ids: set[int]) -> dict[int, Member] | None:
    """These members as this session already loaded them (household joined), if it did."""
    loaded: dict[int, Member] = session.info.get(_LOADED_MEMBERS, {})
    if not member_ids <= loaded.keys():
        return None
    return {mid: loaded[mid] for mid in member_ids}


async def member_for_write(
    session: AsyncSession, actor: Actor, member_id: int | None
) -> Member:
    """The member whose data is being touched; a child may only touch their own."""
    member = await load_member(session, actor, _target(actor, member_id))
    _child_rule(actor, member.id)
    return member


class MemberZone(NamedTuple):
    id: int
    household_id: int
    timezone: str | None
    household_tz: str

    @property
    def tz(self) -> str:
        return self.timezone or self.household_tz


_MEMBER_ZONE = (
    select(Member.id, Member.household_id, Member.timezone,
           Household.timezone.label("household_tz"))
    .join(Household, Household.id == Member.household_id)
    .where(Member.id == bindparam("member_id"))
)


def member_zone_for_write(conn: Connection, actor: Actor, member_id: int | None) -> MemberZone:
    """`member_for_write` for a write of plain Core statements (`Database.run_write`): the
    same rules, and only the columns such a write needs."""
    target = _target(actor, member_id)
    zone = member_zone(conn, target)
    if zone is None:
        raise NotFound(f"member {target} not found")
    require_household(actor, zone.household_id)
    _child_rule(actor, zone.id)
    return zone


def member_zone(conn: Connection, member_id: int) -> MemberZone | None:
    """The member's household and timezones, in one plain query (no profile JSON)."""
    row = conn.execute(_MEMBER_ZONE, {"member_id": member_id}).first()
    return None if row is None else MemberZone(row.id, row.household_id, row.timezone,
                                                row.household_tz)


def _target(actor: Actor, member_id: int | None) -> int:
    target = actor.member_id if member_id is None else member_id
    if target is None:
        raise NotFound("no member given")
    return target


def _child_rule(actor: Actor, member_id: int) -> None:
    if actor.is_child and member_id != actor.member_id:
        raise Forbidden("a child can only change their own things")


async def member_for_read(session: AsyncSession, actor: Actor, member_id: int | None) -> Member:
    """A child's token acts only for that child, for reading too."""
    return await member_for_write(session, actor, member_id)


async def read_scope(
    session: AsyncSession, actor: Actor, member_id: int | None
) -> tuple[bool, int]:
    """Whose rows a list reads: (True, a member's id), or (False, the household's id) when no
    member is named and the actor may see the whole household's."""
    if member_id is None and not actor.is_child:
        if actor.household_id is None:
            raise InvalidInput("member_id is required")
        return False, actor.household_id
    if member_id is None or member_id == actor.member_id:
        # Their own rows: who the actor is was settled when they signed in (or texted).
        return True, _target(actor, member_id)
    return True, (await member_for_read(session, actor, member_id)).id
