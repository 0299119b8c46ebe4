"""Luna's events as iCalendar VEVENTs and back, for the feeds and the CalDAV sync (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from luna.domain.localday import combine_local

PRODID = "-//Luna//Family Assistant//EN"
MEMBERS_PROP = "X-LUNA-MEMBERS"
"""Who an event is for, so a round trip through the server keeps it."""
MAX_TEXT = 300
_MODELED = ("SUMMARY", "DTSTART", "DTEND", "DURATION", "LOCATION", "DESCRIPTION", MEMBERS_PROP,
            "DTSTAMP", "LAST-MODIFIED", "UID")


@dataclass(frozen=True, slots=True)
class EventFields:
    """What Luna keeps of an event; equal fields mean there is nothing to sync."""

    title: str
    start_at: datetime
    end_at: datetime | None
    all_day: bool = False
    location: str | None = None
    notes: str | None = None
    member_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    uid: str
    fields: EventFields
    last_modified: datetime | None
    has_members: bool
    """Whether the server copy said who it is for (else Luna's own list stands)."""


class NotAnEvent(ValueError):
    """The object is no single VEVENT Luna can keep (a to-do, a recurring series, garbage)."""


def new_calendar(name: str | None = None, tz: str | None = None) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    if name:
        cal.add("x-wr-calname", name)
    if tz:
        cal.add("x-wr-timezone", tz)
    return cal


def event_component(
    uid: str,
    fields: EventFields,
    tz: str,
    *,
    stamp: datetime,
    modified: datetime,
    base: icalendar.Component | None = None,
) -> icalendar.Component:
    """A VEVENT for `fields`; given the server's copy as `base`, what Luna doesn't model stays."""
    ev = base if base is not None else icalendar.Event()
    for name in _MODELED:
        ev.pop(name, None)
    ev.add("uid", uid)
    ev.add("dtstamp", stamp.astimezone(UTC))
    ev.add("last-modified", modified.astimezone(UTC))
    ev.add("summary", fields.title)
    if fields.all_day:
        zi = ZoneInfo(tz)
        first = fields.start_at.astimezone(zi).date()
        stop = fields.end_at.astimezone(zi).date() if fields.end_at else first + timedelta(1)
        ev.add("dtstart", first)
        ev.add("dtend", max(stop, first + timedelta(days=1)))
    else:
        ev.add("dtstart", fields.start_at.astimezone(UTC))
        if fields.end_at is not None:
            ev.add("dtend", fields.end_at.astimezone(UTC))
    if fields.location:
        ev.add("location", fields.location)
    if fields.notes:
        ev.add("description", fields.notes)
    if fields.member_ids:
        ev.add(MEMBERS_PROP, ",".join(str(i) for i in fields.member_ids))
    return ev


def event_document(
    uid: str,
    fields: EventFields,
    tz: str,
    *,
    stamp: datetime,
    modified: datetime,
    base_text: str | None = None,
) -> str:
    """A whole VCALENDAR holding one event, edited in place when the server's copy is given."""
    cal: icalendar.Calendar | None = None
    base: icalendar.Component | None = None
    if base_text:
        try:
            cal = icalendar.Calendar.from_ical(base_text)
            base = next(iter(cal.walk("VEVENT")), None)
        except ValueError:
            cal, base = None, None
    if cal is None or base is None:
        cal, base = new_calendar(), None
        ev = event_component(uid, fields, tz, stamp=stamp, modified=modified)
        cal.add_component(ev)
    else:
        event_component(uid, fields, tz, stamp=stamp, modified=modified, base=base)
    return str(cal.to_ical().decode("utf-8"))


def parse_event(text: str, tz: str) -> RemoteEvent:
    """The one plain event in a calendar object; raises NotAnEvent for anything else."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise NotAnEvent(f"unreadable calendar data: {exc}") from exc
    events = list(cal.walk("VEVENT"))
    if len(events) != 1:
        raise NotAnEvent("not exactly one VEVENT")
    ev = events[0]
    # Series can't be one row of Luna's; taking only the first date would lose the rest.
    if any(ev.get(p) is not None for p in ("RRULE", "RDATE", "RECURRENCE-ID")):
        raise NotAnEvent("a recurring event")
    uid = str(ev.get("UID") or "").strip()
    if not uid or ev.get("DTSTART") is None:
        raise NotAnEvent("an event without UID or DTSTART")
    start_raw = ev.decoded("DTSTART")
    end_raw = ev.decoded("DTEND") if ev.get("DTEND") is not None else None
    duration = ev.decoded("DURATION") if ev.get("DURATION") is not None else None
    if isinstance(start_raw, datetime):
        start = _instant(start_raw, tz)
        end = _instant(end_raw, tz) if isinstance(end_raw, datetime) else None
        if end is None and isinstance(duration, timedelta):
            end = start + duration
        if end is not None and end < start:
            end = None
        all_day = False
    elif isinstance(start_raw, date):
        first = start_raw
        last = end_raw if isinstance(end_raw, date) and not isinstance(end_raw, datetime) else None
        if last is None and isinstance(duration, timedelta) and duration.days >= 1:
            last = first + timedelta(days=duration.days)
        if last is None or last <= first:
            last = first + timedelta(days=1)
        start, end = combine_local(first, time(0), tz), combine_local(last, time(0), tz)
        all_day = True
    else:
        raise NotAnEvent("DTSTART is neither a date nor a time")
    members_raw = ev.get(MEMBERS_PROP)
    members = _member_ids(str(members_raw)) if members_raw is not None else ()
    fields = EventFields(
        title=_text(ev.get("SUMMARY")) or "(untitled)",
        start_at=start, end_at=end, all_day=all_day,
        location=_text(ev.get("LOCATION")), notes=_notes(ev.get("DESCRIPTION")),
        member_ids=members,
    )
    modified = _stamp(ev, "LAST-MODIFIED") or _stamp(ev, "DTSTAMP")
    return RemoteEvent(uid=uid, fields=fields, last_modified=modified,
                       has_members=members_raw is not None)


def _instant(value: datetime, tz: str) -> datetime:
    # A floating time is a wall time where the family lives.
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return value.astimezone(UTC)


def _stamp(ev: icalendar.Component, name: str) -> datetime | None:
    if ev.get(name) is None:
        return None
    value = ev.decoded(name)
    return _instant(value, "UTC") if isinstance(value, datetime) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] or None


def _notes(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _member_ids(raw: str) -> tuple[int, ...]:
    return tuple(int(p) for p in raw.replace(";", ",").split(",") if p.strip().isdigit())
