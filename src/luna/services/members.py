"""Households, members and API tokens."""

from __future__ import annotations

import builtins
import hashlib
import secrets
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import ApiToken, Household, Member
from luna.domain.localday import zone
from luna.domain.phones import normalize_phone
from luna.domain.profile import empty_ai_context, merge_ai_context
from luna.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from luna.services.access import Actor, load_member, member_actor, require_household
from luna.services.zones import household_tz

MemberRole = Literal["adult", "child"]


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(default="21:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class Preferences(BaseModel):
    """A member's preferences; stored as JSON, always read back with every default filled."""

    model_config = ConfigDict(extra="forbid")
    nudge_frequency: Literal["low", "normal", "high"] = "normal"
    prefer_voice: bool = False
    morning_checkin: str | None = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    evening_checkin: str | None = Field(default="21:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    day_start: str = Field(default="03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class MemberName(NamedTuple):
    """A member as words name them: enough to resolve "Ava" or "Grandpa", without the profile."""

    id: int
    name: str
    nicknames: tuple[str, ...]
    role: str


class MemberOut(BaseModel):
    id: int
    household_id: int
    name: str
    nicknames: list[str]
    phone: str | None
    email: str | None
    role: MemberRole
    timezone: str
    onboarded: bool
    sms_opt_out: bool
    preferences: Preferences
    ai_context: dict[str, Any]


class HouseholdOut(BaseModel):
    id: int
    name: str
    timezone: str


class CreatedHousehold(HouseholdOut):
    admin_member_id: int
    token: str


class CreatedToken(BaseModel):
    id: int
    member_id: int
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MEMBER_FIELDS = ("id", "household_id", "name", "nicknames", "phone", "email", "role",
                 "timezone", "onboarded", "sms_opt_out", "preferences", "ai_context")
"""The columns `member_out` reads, for a Core select that skips the ORM entity."""

_MEMBERS: Table = Member.__table__  # type: ignore[assignment]
_HOUSEHOLDS: Table = Household.__table__  # type: ignore[assignment]
MEMBER_BY_PHONE = select(
    *(_MEMBERS.c[name] for name in MEMBER_FIELDS), _HOUSEHOLDS.c.timezone.label("household_tz")
).join(_HOUSEHOLDS, _HOUSEHOLDS.c.id == _MEMBERS.c.household_id).where(
    _MEMBERS.c.phone == bindparam("phone")
)
"""Every text and call starts with it. Built once, and a Core row, not a Member object: the
ORM's identity map and instrumentation cost more than the lookup itself, and a channel only
needs the member's fields (`member_out(row, row.household_tz)`)."""


def member_out(member: Member | Row[*tuple[Any, ...]], household_tz: str) -> MemberOut:
    prefs = Preferences.model_validate(member.preferences or {})
    ctx = merge_ai_context(None, member.ai_context or {})  # starts from the full shape
    return MemberOut(
        id=member.id,
        household_id=member.household_id,
        name=member.name,
        nicknames=list(member.nicknames or []),
        phone=member.phone,
        email=member.email,
        role="child" if member.role == "child" else "adult",
        timezone=member.timezone or household_tz,
        onboarded=member.onboarded,
        sms_opt_out=member.sms_opt_out,
        preferences=prefs,
        ai_context=ctx,
    )


def _check_timezone(name: str) -> str:
    try:
        zone(name)
    except ValueError as exc:
        raise InvalidInput(
            f"unknown timezone {name!r}; use an IANA name like Europe/Berlin"
        ) from exc
    return name


class MemberService:
    def __init__(self, db: Database, clock: Clock, default_region: str = "US") -> None:
        self.db = db
        self.clock = clock
        self.default_region = default_region

    def _phone(self, raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return None
        try:
            return normalize_phone(raw, self.default_region)
        except ValueError as exc:
            raise InvalidInput(f"{raw!r} is not a valid phone number") from exc

    async def create_household(
        self,
        actor: Actor,
        *,
        name: str,
        timezone: str,
        admin_name: str,
        admin_phone: str | None = None,
        admin_email: str | None = None,
    ) -> CreatedHousehold:
        if not actor.is_admin:
            raise Forbidden("creating a household needs the server admin token")
        _check_timezone(timezone)
        phone = self._phone(admin_phone)
        token = new_token()
        async with self.db.transaction() as s:
            household = Household(name=name.strip(), timezone=timezone)
            s.add(household)
            await s.flush()
            member = Member(
                household_id=household.id,
                name=admin_name.strip(),
                phone=phone,
                email=admin_email,
                role="adult",
                ai_context=empty_ai_context(),
            )
            s.add(member)
            await self._flush_unique_phone(s, phone)
            row = ApiToken(member_id=member.id, token_hash=hash_token(token), name="initial")
            s.add(row)
            await s.flush()
            return CreatedHousehold(
                id=household.id,
                name=household.name,
                timezone=household.timezone,
                admin_member_id=member.id,
                token=token,
            )

    async def _flush_unique_phone(self, s: AsyncSession, phone: str | None) -> None:
        try:
            await s.flush()
        except IntegrityError as exc:
            raise Conflict(f"the phone number {phone} already belongs to a member") from exc

    async def household(self, actor: Actor, household_id: int) -> HouseholdOut:
        require_household(actor, household_id)
        async with self.db.read() as s:
            h = await s.get(Household, household_id)
            if h is None:
                raise NotFound(f"household {household_id} not found")
            return HouseholdOut(id=h.id, name=h.name, timezone=h.timezone)

    async def list_households(self, actor: Actor) -> list[HouseholdOut]:
        async with self.db.read() as s:
            q = select(Household).order_by(Household.id)
            if not actor.is_admin:
                q = q.where(Household.id == actor.household_id)
            return [
                HouseholdOut(id=h.id, name=h.name, timezone=h.timezone) for h in await s.scalars(q)
            ]

    async def add_member(
        self,
        actor: Actor,
        *,
        name: str,
        household_id: int | None = None,
        phone: str | None = None,
        email: str | None = None,
        timezone: str | None = None,
        role: MemberRole = "adult",
        nicknames: list[str] | None = None,
        preferences: dict[str, Any] | None = None,
    ) -> MemberOut:
        if actor.is_child:
            raise Forbidden("a child cannot add members")
        hid = household_id if household_id is not None else actor.household_id
        if hid is None:
            raise InvalidInput("household_id is required")
        require_household(actor, hid)
        if not name.strip():
            raise InvalidInput("a member needs a name")
        if timezone is not None:
            _check_timezone(timezone)
        prefs = Preferences.model_validate(preferences or {})
        normalized = self._phone(phone)
        async with self.db.transaction() as s:
            h = await s.get(Household, hid)
            if h is None:
                raise NotFound(f"household {hid} not found")
            member = Member(
                household_id=hid,
                name=name.strip(),
                phone=normalized,
                email=email,
                timezone=timezone,
                role=role,
                nicknames=_clean_names(nicknames or []),
                preferences=prefs.model_dump(),
                ai_context=empty_ai_context(),
            )
            s.add(member)
            await self._flush_unique_phone(s, normalized)
            return member_out(member, h.timezone)

    async def get(self, actor: Actor, member_id: int) -> MemberOut:
        async with self.db.read() as s:
            m = await load_member(s, actor, member_id)
            return member_out(m, await household_tz(s, m.household_id))

    async def list(self, actor: Actor, household_id: int | None = None) -> list[MemberOut]:
        hid = household_id if household_id is not None else actor.household_id
        if hid is None:
            raise InvalidInput("household_id is required")
        require_household(actor, hid)
        async with self.db.read() as s:
            tz = await household_tz(s, hid)
            rows = await s.scalars(
                select(Member).where(Member.household_id == hid).order_by(Member.id)
            )
            return [member_out(m, tz) for m in rows]

    async def names(self, actor: Actor) -> builtins.list[MemberName]:
        """The household's members by name and nickname, in list()'s order."""
        hid = actor.household_id
        if hid is None:
            raise InvalidInput("household_id is required")
        async with self.db.read() as s:
            rows = await s.execute(
                select(Member.id, Member.name, Member.nicknames, Member.role)
                .where(Member.household_id == hid).order_by(Member.id)
            )
            return [MemberName(int(i), str(n), tuple(nick or ()), str(r))
                    for i, n, nick, r in rows]

    async def update(self, actor: Actor, member_id: int, changes: dict[str, Any]) -> MemberOut:
        async with self.db.transaction() as s:
            m = await load_member(s, actor, member_id)
            if actor.is_child and m.id != actor.member_id:
                raise Forbidden("a child can only change their own profile")
            if actor.is_child and changes.get("role") not in (None, m.role):
                raise Forbidden("a child cannot change roles")
            for key, value in changes.items():
                if key == "phone":
                    m.phone = self._phone(value)
                elif key == "timezone":
                    m.timezone = _check_timezone(value) if value else None
                elif key == "preferences":
                    merged = {
                        **Preferences.model_validate(m.preferences or {}).model_dump(),
                        **value,
                    }
                    m.preferences = Preferences.model_validate(merged).model_dump()
                elif key == "ai_context":
                    m.ai_context = merge_ai_context(m.ai_context or empty_ai_context(), value)
                elif key == "nicknames":
                    m.nicknames = _clean_names(value)
                elif key in {"name", "email", "role", "onboarded", "sms_opt_out"}:
                    setattr(m, key, value)
                else:
                    raise InvalidInput(f"unknown member field {key!r}")
            await self._flush_unique_phone(s, m.phone)
            return member_out(m, await household_tz(s, m.household_id))

    async def delete(self, actor: Actor, member_id: int) -> None:
        async with self.db.transaction() as s:
            m = await load_member(s, actor, member_id)
            if actor.is_child:
                raise Forbidden("a child cannot delete members")
            others = await s.scalar(
                select(func.count(Member.id)).where(
                    Member.household_id == m.household_id,
                    Member.role == "adult",
                    Member.id != m.id,
                )
            )
            if m.role == "adult" and not others:
                raise Conflict("the last adult of a household cannot be deleted")
            await s.delete(m)

    async def by_phone(self, phone: str) -> MemberOut | None:
        """For channels that know only a caller's number (SMS, voice)."""
        try:
            normalized = normalize_phone(phone, self.default_region)
        except ValueError:
            return None
        async with self.db.connect() as conn:
            row = (await conn.execute(MEMBER_BY_PHONE, {"phone": normalized})).first()
        return None if row is None else member_out(row, row.household_tz)

    async def create_token(
        self, actor: Actor, member_id: int, name: str = "default"
    ) -> CreatedToken:
        token = new_token()
        async with self.db.transaction() as s:
            m = await load_member(s, actor, member_id)
            if actor.is_child and m.id != actor.member_id:
                raise Forbidden("a child can only create their own token")
            row = ApiToken(member_id=m.id, token_hash=hash_token(token), name=name)
            s.add(row)
            await s.flush()
            return CreatedToken(id=row.id, member_id=m.id, token=token)

    async def authenticate(self, token: str) -> Actor:
        async with self.db.read() as s:
            row = await s.scalar(
                select(ApiToken).where(
                    ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
                )
            )
            if row is None:
                raise Unauthorized("unknown or revoked token")
            member = await s.get(Member, row.member_id)
            if member is None:
                raise Unauthorized("unknown or revoked token")
            return member_actor(member)

    async def revoke_own(self, token: str) -> None:
        """Revoke the token presented (a browser logging out); unknown tokens are ignored."""
        async with self.db.transaction() as s:
            row = await s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            if row is not None and row.revoked_at is None:
                row.revoked_at = self.clock.now()

    async def revoke_token(self, actor: Actor, token_id: int) -> None:
        async with self.db.transaction() as s:
            row = await s.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"token {token_id} not found")
            await load_member(s, actor, row.member_id)
            row.revoked_at = self.clock.now()


def new_token() -> str:
    return "luna_" + secrets.token_urlsafe(24)


def _clean_names(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for n in names:
        if n.strip():
            seen.setdefault(n.strip().lower(), n.strip())
    return list(seen.values())
