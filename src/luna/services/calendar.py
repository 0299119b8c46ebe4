"""The family calendar: events for the whole household or for some of its members."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Event, EventTombstone, Member
from luna.domain.localday import combine_local
from luna.errors import Forbidden, InvalidInput, NotFound
from luna.services.access import Actor, load_member, require_household
from luna.services.matching import best_match
from luna.services.when import parse_day, parse_when
from luna.services.zones import household_tz

MAX_TITLE = 300
EVENT_FIELDS = frozenset({"title", "start", "end", "all_day", "location", "notes", "member_ids"})


class EventOut(BaseModel):
    id: int
    title: str
    start: datetime
    end: datetime | None
    all_day: bool
    location: str | None
    notes: str | None
    member_ids: list[int]


def event_out(e: Event, tz: str) -> EventOut:
    zi = ZoneInfo(tz)
    return EventOut(
        id=e.id, title=e.title, start=e.start_at.astimezone(zi),
        end=e.end_at.astimezone(zi) if e.end_at else None, all_day=e.all_day,
        location=e.location, notes=e.notes, member_ids=[int(i) for i in e.member_ids or []],
    )


def normalize_span(
    start: datetime, end: datetime | None, all_day: bool, tz: str
) -> tuple[datetime, datetime | None]:
    """Check an event's span; an all-day one runs from local midnight to the midnight after."""
    if start.tzinfo is None and not all_day:
        raise InvalidInput("start needs a UTC offset, e.g. 2026-03-05T17:00:00-05:00")
    if end is not None and end.tzinfo is None and not all_day:
        raise InvalidInput("end needs a UTC offset, e.g. 2026-03-05T18:00:00-05:00")
    if not all_day:
        if end is not None and end < start:
            raise InvalidInput("an event cannot end before it starts")
        return start, end
    zi = ZoneInfo(tz)
    first = _local_date(start, zi)
    begin = combine_local(first, time(0), tz)
    if end is None:
        return begin, combine_local(first + timedelta(days=1), time(0), tz)
    last_local = end.astimezone(zi) if end.tzinfo else end
    if last_local.date() < first:
        raise InvalidInput("an event cannot end before it starts")
    # A midnight end is already the exclusive end (what we hand back); any other time means
    # "through that day", so re-saving an event never makes it grow.
    if last_local.time() == time(0) and last_local.date() > first:
        stop = combine_local(last_local.date(), time(0), tz)
    else:
        stop = combine_local(last_local.date() + timedelta(days=1), time(0), tz)
    return begin, stop


def _local_date(value: datetime, zi: ZoneInfo) -> date:
    return (value.astimezone(zi) if value.tzinfo else value).date()


def parse_window(
    start: str | None, end: str | None, tz: str, now: datetime, *, default_days: int = 7
) -> tuple[datetime, datetime]:
    """A [start, end) window from ISO times, dates or words; an end given as a day is included."""
    zi = ZoneInfo(tz)
    begin = (
        parse_when(start, tz, now, default_time=time(0))
        if start else combine_local(now.astimezone(zi).date(), time(0), tz)
    )
    if not end:
        first = begin.astimezone(zi).date()
        stop = combine_local(first + timedelta(days=default_days), time(0), tz)
    elif _is_day(end):
        stop = combine_local(parse_day(end, tz, now) + timedelta(days=1), time(0), tz)
    else:
        stop = parse_when(end, tz, now, default_time=time(0))
        local = stop.astimezone(zi)
        if not _is_iso(end) and local.time() == time(0):
            stop = combine_local(local.date() + timedelta(days=1), time(0), tz)
    if stop <= begin:
        raise InvalidInput("the end of the window must be after its start")
    return begin, stop


def _is_day(text: str) -> bool:
    value = text.strip()
    return len(value) == 10 and _is_iso(value)


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# Built once, values bound: every briefing and schedule reads a window of events.
_WINDOW = (
    select(Event)
    .where(
        Event.household_id == bindparam("hid"),
        Event.start_at < bindparam("end"),
        or_(
            Event.end_at > bindparam("start"),
            and_(Event.end_at.is_(None), Event.start_at >= bindparam("start")),
        ),
    )
    .order_by(Event.start_at, Event.id)
)


class CalendarService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def household_tz(self, actor: Actor) -> str:
        async with self.db.read() as s:
            return await household_tz(s, _household(actor))

    async def add(
        self,
        actor: Actor,
        title: str,
        start: datetime,
        end: datetime | None = None,
        all_day: bool = False,
        location: str | None = None,
        notes: str | None = None,
        member_ids: Iterable[int] = (),
    ) -> EventOut:
        hid = _household(actor)
        clean_title = _title(title)
        async with self.db.transaction() as s:
            tz = await household_tz(s, hid)
            start_at, end_at = normalize_span(start, end, all_day, tz)
            ids = await _check_members(s, hid, member_ids)
            now = self.clock.now()
            e = Event(
                household_id=hid, title=clean_title, start_at=start_at, end_at=end_at,
                all_day=all_day, location=location, notes=notes, member_ids=ids,
                created_by=actor.member_id, created_at=now, updated_at=now,
            )
            s.add(e)
            await s.flush()
            return event_out(e, tz)

    async def list(
        self, actor: Actor, start: datetime, end: datetime, member_id: int | None = None
    ) -> list[EventOut]:
        """Events overlapping [start, end); for a member, theirs and the whole family's."""
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput("the window needs times with a UTC offset")
        hid = _household(actor)
        async with self.db.read() as s:
            tz = await household_tz(s, hid)
            if member_id is not None:
                # load_member: in a composite read (a schedule, a briefing) the member is
                # loaded once for all of its parts.
                m = await load_member(s, actor, member_id)
                if m.household_id != hid:
                    raise NotFound(f"member {member_id} not found")
            rows = await s.scalars(_WINDOW, {"hid": hid, "start": start, "end": end})
            events = [event_out(e, tz) for e in rows]
        if member_id is not None:
            events = [e for e in events if not e.member_ids or member_id in e.member_ids]
        return events

    async def get(self, actor: Actor, event_id: int) -> EventOut:
        async with self.db.read() as s:
            e = await _load(s, actor, event_id)
            return event_out(e, await household_tz(s, e.household_id))

    async def update(self, actor: Actor, event_id: int, changes: dict[str, Any]) -> EventOut:
        unknown = set(changes) - EVENT_FIELDS
        if unknown:
            raise InvalidInput(f"unknown event field {sorted(unknown)[0]!r}")
        async with self.db.transaction() as s:
            e = await _load(s, actor, event_id)
            _check_owner(actor, e)
            tz = await household_tz(s, e.household_id)
            all_day = bool(changes.get("all_day", e.all_day))
            start = changes.get("start") or e.start_at
            end = changes["end"] if "end" in changes else e.end_at
            if e.all_day and not all_day and "end" not in changes:
                end = None  # the stored midnight-to-midnight end means nothing for a timed event
            e.start_at, e.end_at = normalize_span(start, end, all_day, tz)
            e.all_day = all_day
            if "title" in changes:
                e.title = _title(changes["title"])
            if "member_ids" in changes:
                e.member_ids = await _check_members(s, e.household_id, changes["member_ids"] or [])
            for key in ("location", "notes"):
                if key in changes:
                    setattr(e, key, changes[key])
            e.updated_at = self.clock.now()
            await s.flush()
            return event_out(e, tz)

    async def delete(self, actor: Actor, event_id: int) -> None:
        async with self.db.transaction() as s:
            e = await _load(s, actor, event_id)
            _check_owner(actor, e)
            if e.external_uid:
                # The CalDAV sync removes it from the server at its next run.
                s.add(EventTombstone(household_id=e.household_id, external_uid=e.external_uid,
                                     external_etag=e.external_etag, deleted_at=self.clock.now()))
            await s.delete(e)

    async def find(self, actor: Actor, title: str, member_id: int | None = None) -> EventOut:
        """The upcoming event (not yet over) whose title best matches what was said."""
        now = self.clock.now()
        hid = _household(actor)
        async with self.db.read() as s:
            tz = await household_tz(s, hid)
            rows = await s.scalars(
                select(Event)
                .where(
                    Event.household_id == hid,
                    or_(Event.end_at >= now, and_(Event.end_at.is_(None), Event.start_at >= now)),
                )
                .order_by(Event.start_at, Event.id)
            )
            events = [event_out(e, tz) for e in rows]
        if member_id is not None:
            events = [e for e in events if not e.member_ids or member_id in e.member_ids]
        return best_match(title, events, lambda e: e.title, what="upcoming event")


def _household(actor: Actor) -> int:
    if actor.household_id is None:
        raise InvalidInput("the calendar belongs to a household; use a member's token")
    return actor.household_id


def _title(title: str) -> str:
    clean = str(title).strip()
    if not clean:
        raise InvalidInput("an event needs a title")
    if len(clean) > MAX_TITLE:
        raise InvalidInput(f"an event title can be at most {MAX_TITLE} characters")
    return clean


def _check_owner(actor: Actor, e: Event) -> None:
    # The calendar is shared; a child may change only what they put on it themselves.
    if actor.is_child and e.created_by != actor.member_id:
        raise Forbidden("a child can only change events they added")


async def _load(s: AsyncSession, actor: Actor, event_id: int) -> Event:
    e = await s.get(Event, event_id)
    if e is None:
        raise NotFound(f"event {event_id} not found")
    require_household(actor, e.household_id)
    return e


async def _check_members(
    s: AsyncSession, household_id: int, member_ids: Iterable[int]
) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in member_ids))
    if not ids:
        return []
    found = set(
        await s.scalars(
            select(Member.id).where(Member.id.in_(ids), Member.household_id == household_id)
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"member {missing[0]} not found")
    return ids
