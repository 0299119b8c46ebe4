"""iCal feeds at secret URLs: the household's calendar, chores and task due dates, or a member's.

A feed URL is a bearer secret (calendar apps can't send headers), so only its hash is stored and
a revoked or unknown one is simply not found.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from pydantic import BaseModel
from sqlalchemy import or_, select

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Chore, Event, FeedToken, Household, Member, Task
from luna.domain.localday import parse_hhmm
from luna.errors import Forbidden, NotFound
from luna.services.access import Actor, member_for_write, require_household
from luna.services.chores import chore_out
from luna.services.ical import EventFields, event_component, new_calendar
from luna.services.members import hash_token
from luna.services.tasks import OPEN_STATUSES

PAST_WINDOW = timedelta(days=60)
"""How far back a feed reaches; calendar apps re-download the whole feed every refresh."""
CHORE_LENGTH = timedelta(minutes=30)
TASK_LENGTH = timedelta(minutes=15)
REFRESH = timedelta(hours=1)


class FeedOut(BaseModel):
    id: int
    member_id: int | None
    """None: the whole household's feed."""
    created_at: datetime
    revoked_at: datetime | None


class CreatedFeed(FeedOut):
    token: str
    """Shown once: only its hash is kept."""


def _feed_out(f: FeedToken) -> FeedOut:
    return FeedOut(id=f.id, member_id=f.member_id, created_at=f.created_at,
                   revoked_at=f.revoked_at)


class FeedService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, actor: Actor, member_id: int | None = None) -> CreatedFeed:
        hid = _household_id(actor)
        token = secrets.token_urlsafe(32)
        async with self.db.transaction() as s:
            if member_id is None:
                if actor.is_child:
                    raise Forbidden("a child can only have a feed of their own")
            else:
                await member_for_write(s, actor, member_id)
            row = FeedToken(household_id=hid, member_id=member_id, token_hash=hash_token(token),
                            created_at=self.clock.now())
            s.add(row)
            await s.flush()
            return CreatedFeed(**_feed_out(row).model_dump(), token=token)

    async def list(self, actor: Actor) -> list[FeedOut]:
        hid = _household_id(actor)
        async with self.db.read() as s:
            q = select(FeedToken).where(FeedToken.household_id == hid)
            if actor.is_child:
                q = q.where(FeedToken.member_id == actor.member_id)
            return [_feed_out(f) for f in await s.scalars(q.order_by(FeedToken.id))]

    async def revoke(self, actor: Actor, feed_id: int) -> FeedOut:
        async with self.db.transaction() as s:
            row = await s.get(FeedToken, feed_id)
            if row is None:
                raise NotFound(f"feed {feed_id} not found")
            require_household(actor, row.household_id)
            if actor.is_child and row.member_id != actor.member_id:
                raise Forbidden("a child can only revoke their own feed")
            if row.revoked_at is None:
                row.revoked_at = self.clock.now()
            return _feed_out(row)

    async def render(self, token: str) -> str:
        """The feed behind a secret, as iCalendar text."""
        now = self.clock.now()
        async with self.db.read() as s:
            feed = await s.scalar(select(FeedToken).where(
                FeedToken.token_hash == hash_token(token), FeedToken.revoked_at.is_(None)
            ))
            if feed is None:
                raise NotFound("no such feed")
            h = await s.get(Household, feed.household_id)
            assert h is not None  # the feed row goes with its household
            names = {m.id: m.name for m in await s.scalars(
                select(Member).where(Member.household_id == h.id)
            )}
            mid = feed.member_id
            title = f"{h.name} (Luna)" if mid is None else f"{names.get(mid, '')} · {h.name} (Luna)"
            cal = new_calendar(title, h.timezone)
            cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
            cal.add("x-published-ttl", REFRESH)

            events = await s.scalars(
                select(Event).where(
                    Event.household_id == h.id,
                    or_(Event.start_at >= now - PAST_WINDOW, Event.end_at >= now - PAST_WINDOW),
                ).order_by(Event.start_at, Event.id)
            )
            for e in events:
                ids = [int(i) for i in e.member_ids or []]
                if mid is not None and ids and mid not in ids:
                    continue
                cal.add_component(event_component(
                    f"event-{e.id}@luna",
                    EventFields(e.title, e.start_at, e.end_at, e.all_day, e.location, e.notes),
                    h.timezone, stamp=now, modified=e.updated_at,
                ))

            q = select(Chore).where(Chore.household_id == h.id, Chore.active.is_(True),
                                    Chore.next_due.is_not(None))
            if mid is not None:
                q = q.where(Chore.assignee_id == mid)
            for c in await s.scalars(q.order_by(Chore.id)):
                cal.add_component(_chore_event(c, h.timezone, names, now, member_feed=mid))

            tq = select(Task).where(Task.household_id == h.id, Task.status.in_(OPEN_STATUSES),
                                    Task.due_at.is_not(None))
            if mid is not None:
                tq = tq.where(Task.member_id == mid)
            for t in await s.scalars(tq.order_by(Task.due_at, Task.id)):
                cal.add_component(_task_event(t, names, now, member_feed=mid))
        cal.add_missing_timezones()
        return str(cal.to_ical().decode("utf-8"))


def _chore_event(
    c: Chore, tz: str, names: dict[int, str], now: datetime, *, member_feed: int | None
) -> icalendar.Event:
    assert c.next_due is not None
    ev = icalendar.Event()
    ev.add("uid", f"chore-{c.id}@luna")
    ev.add("dtstamp", now)
    who = names.get(c.assignee_id) if c.assignee_id is not None else None
    ev.add("summary", f"{c.title} ({who})" if who and member_feed is None else c.title)
    if c.due_time:
        start: Any = datetime.combine(c.next_due, parse_hhmm(c.due_time)).replace(
            tzinfo=ZoneInfo(tz)
        )
        ev.add("dtstart", start)
        ev.add("duration", CHORE_LENGTH)
    else:
        ev.add("dtstart", c.next_due)
        ev.add("dtend", c.next_due + timedelta(days=1))
    rule = chore_out(c, names, now.astimezone(ZoneInfo(tz))).schedule.rrule
    # A member's feed can't promise them the later turns of a chore that rotates.
    if rule and (member_feed is None or c.assignment_mode == "fixed"):
        ev.add("rrule", icalendar.vRecur.from_ical(rule))
    details = [c.notes] if c.notes else []
    details.append(f"{c.points} point{'s' * (c.points != 1)}")
    ev.add("description", "\n".join(details))
    ev.add("categories", ["Chore"])
    return ev


def _task_event(
    t: Task, names: dict[int, str], now: datetime, *, member_feed: int | None
) -> icalendar.Event:
    assert t.due_at is not None
    ev = icalendar.Event()
    ev.add("uid", f"task-{t.id}@luna")
    ev.add("dtstamp", now)
    ev.add("last-modified", t.updated_at)
    who = names.get(t.member_id)
    ev.add("summary", f"Due: {t.title}" + (f" ({who})" if who and member_feed is None else ""))
    ev.add("dtstart", t.due_at)
    ev.add("duration", TASK_LENGTH)
    if t.notes:
        ev.add("description", t.notes)
    ev.add("categories", ["Task"])
    return ev


def _household_id(actor: Actor) -> int:
    if actor.household_id is None:
        raise NotFound("use a member's token for feeds")
    return actor.household_id
