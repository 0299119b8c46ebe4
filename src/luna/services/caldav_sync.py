"""Two-way sync of a household's family calendar with a CalDAV server.

Each synced event keeps the server's UID and ETag and the time it last matched the server: a
newer updated_at means Luna changed it, another ETag means the server did. When both did, the
later modification wins and the other version's text is kept in the event's notes. Luna's
deletes wait in event_tombstones until the next sync removes them from the server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import func, select

from luna.clock import Clock
from luna.config import Settings
from luna.db.engine import Database
from luna.db.models import Event, EventTombstone, Household, Member
from luna.errors import Forbidden, InvalidInput, NotFound
from luna.services.access import Actor, require_household
from luna.services.caldav_remote import (
    CalDavConfig,
    ChangedOnServer,
    RemoteCalendar,
    RemoteObject,
    safe_url,
)
from luna.services.ical import EventFields, NotAnEvent, RemoteEvent, event_document, parse_event

log = structlog.get_logger(__name__)

SETTINGS_KEY = "caldav"
STATE_KEY = "caldav_state"
"""Which calendar the household's events were last synced with."""


class SyncReport(BaseModel):
    household_id: int
    calendar: str
    pushed: int = 0
    pulled: int = 0
    deleted_on_server: int = 0
    deleted_in_luna: int = 0
    skipped: int = 0
    """Server objects Luna can't hold as one event (recurring series, to-dos)."""
    conflicts: list[str] = []


@dataclass(frozen=True, slots=True)
class _Local:
    id: int
    fields: EventFields
    uid: str | None
    etag: str | None
    updated_at: datetime
    synced_at: datetime | None

    @property
    def changed(self) -> bool:
        return self.synced_at is None or self.updated_at > self.synced_at


@dataclass(frozen=True, slots=True)
class _Remote:
    obj: RemoteObject
    event: RemoteEvent


@dataclass(slots=True)
class _Write:
    """What to store locally for one event once the server side is done."""

    event_id: int | None  # None: a new event from the server
    seen_updated_at: datetime | None
    uid: str
    etag: str | None
    fields: EventFields | None  # None: only the sync bookkeeping changes
    delete: bool = False


_Push = Callable[[str, EventFields, datetime, _Remote | None], Awaitable[str | None]]
"""Store a version of an event on the server; its new ETag."""


def _fields(e: Event) -> EventFields:
    return EventFields(
        title=e.title, start_at=e.start_at, end_at=e.end_at, all_day=e.all_day,
        location=e.location, notes=e.notes, member_ids=tuple(int(i) for i in e.member_ids or []),
    )


def describe(f: EventFields, tz: str) -> str:
    """One line that lets a person rebuild a version of an event by hand."""
    zi = ZoneInfo(tz)
    start = f.start_at.astimezone(zi)
    if f.all_day:
        when = start.strftime("%a %d %b %Y (all day)")
    else:
        when = start.strftime("%a %d %b %Y %H:%M")
        if f.end_at is not None:
            when += "–" + f.end_at.astimezone(zi).strftime("%H:%M")
    text = f"“{f.title}” {when}"
    if f.location:
        text += f" at {f.location}"
    if f.notes:
        text += f"; notes: {f.notes}"
    return text


def resolve_conflict(
    local: EventFields, local_modified: datetime, remote: EventFields,
    remote_modified: datetime | None, tz: str,
) -> tuple[EventFields, str]:
    """The later version, its notes carrying the other one; a server copy without a modification
    time counts as the later (someone edited it by hand after Luna last saw it)."""
    remote_wins = remote_modified is None or remote_modified > local_modified
    winner, loser = (remote, local) if remote_wins else (local, remote)
    where = "Luna" if remote_wins else "the calendar"
    note = f"Conflict: {where} had {describe(loser, tz)}"
    notes = f"{winner.notes}\n\n{note}" if winner.notes else note
    merged = replace(winner, notes=notes, member_ids=local.member_ids or remote.member_ids)
    side = "the calendar's" if remote_wins else "Luna's"
    return merged, f"{winner.title}: kept {side} version; {note}"


class CalDavSync:
    def __init__(self, db: Database, clock: Clock, settings: Settings | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self._locks: dict[int, asyncio.Lock] = {}

    async def configure(
        self, actor: Actor, household_id: int, url: str, username: str | None = None,
        password: str | None = None,
    ) -> str:
        """Store the household's calendar; returns its URL without credentials."""
        require_household(actor, household_id)
        if actor.is_child:
            raise Forbidden("only a grown-up can connect the family calendar")
        try:
            config = CalDavConfig(url=url, username=username,
                                  password=SecretStr(password) if password else None)
        except ValidationError as exc:
            raise InvalidInput(f"invalid CalDAV settings: {exc.errors()[0]['msg']}") from exc
        if not url.startswith(("http://", "https://")):
            raise InvalidInput("the CalDAV URL must start with http:// or https://")
        async with self.db.transaction() as s:
            h = await s.get(Household, household_id)
            if h is None:
                raise NotFound(f"household {household_id} not found")
            stored: dict[str, Any] = {"url": config.url, "username": config.username}
            if config.password is not None:
                stored["password"] = config.password.get_secret_value()
            h.settings = {**(h.settings or {}), SETTINGS_KEY: stored}
        return config.safe_url

    async def config_for(self, household_id: int) -> CalDavConfig | None:
        async with self.db.read() as s:
            h = await s.get(Household, household_id)
            if h is None:
                raise NotFound(f"household {household_id} not found")
            own = (h.settings or {}).get(SETTINGS_KEY)
            if own:
                try:
                    return CalDavConfig.model_validate(
                        {**own, "timeout_s": self._timeout()}
                    )
                except ValidationError as exc:
                    raise InvalidInput(f"household {household_id} has broken CalDAV settings"
                                       ) from exc
            st = self.settings
            if st is None or not st.caldav_url:
                return None
            target = st.caldav_household_id
            if target is None:
                count = await s.scalar(select(func.count(Household.id)))
                target = household_id if count == 1 else None
            if target != household_id:
                return None
            return CalDavConfig(url=st.caldav_url, username=st.caldav_username,
                                password=st.caldav_password, timeout_s=st.caldav_timeout_s)

    def _timeout(self) -> float:
        return self.settings.caldav_timeout_s if self.settings else 20.0

    async def sync(self, actor: Actor, household_id: int | None = None) -> SyncReport:
        hid = household_id if household_id is not None else actor.household_id
        if hid is None:
            raise InvalidInput("which household? give its id")
        require_household(actor, hid)
        if actor.is_child:
            raise Forbidden("only a grown-up can sync the family calendar")
        config = await self.config_for(hid)
        if config is None:
            raise InvalidInput(f"household {hid} has no CalDAV calendar configured")
        return await self.sync_household(hid, config)

    async def sync_all(self) -> list[SyncReport]:
        """What a scheduler runs: every household with a calendar, one failure not stopping the
        rest (it is logged, and the next run tries again)."""
        async with self.db.read() as s:
            ids = list(await s.scalars(select(Household.id).order_by(Household.id)))
        reports = []
        for hid in ids:
            config = await self.config_for(hid)
            if config is None:
                continue
            try:
                reports.append(await self.sync_household(hid, config))
            except Exception as exc:
                log.warning("caldav_sync_failed", household=hid, calendar=config.safe_url,
                            reason=str(exc))
        return reports

    async def sync_household(self, household_id: int, config: CalDavConfig) -> SyncReport:
        lock = self._locks.setdefault(household_id, asyncio.Lock())
        async with lock:
            report = await self._sync(household_id, config)
        log.info("caldav_synced", household=household_id, calendar=report.calendar,
                 pushed=report.pushed, pulled=report.pulled, conflicts=len(report.conflicts))
        return report

    async def _sync(self, hid: int, config: CalDavConfig) -> SyncReport:
        remote_cal = await asyncio.to_thread(RemoteCalendar, config)
        objects = await asyncio.to_thread(remote_cal.list)
        report = SyncReport(household_id=hid, calendar=safe_url(config.url))
        async with self.db.read() as s:
            h = await s.get(Household, hid)
            if h is None:
                raise NotFound(f"household {hid} not found")
            tz = h.timezone
            # Synced with another calendar before: nothing missing here was deleted here.
            moved = (h.settings or {}).get(STATE_KEY, {}).get("url") != report.calendar
            members = set(await s.scalars(select(Member.id).where(Member.household_id == hid)))
            rows = list(await s.scalars(select(Event).where(Event.household_id == hid)))
            locals_ = [_Local(e.id, _fields(e), e.external_uid, e.external_etag, e.updated_at,
                              e.synced_at) for e in rows]
            tombs = list(await s.scalars(
                select(EventTombstone).where(EventTombstone.household_id == hid)
            ))
        remote: dict[str, _Remote] = {}
        for obj in objects:
            try:
                ev = parse_event(obj.data, tz)
            except NotAnEvent:
                report.skipped += 1
                continue
            fields = replace(ev.fields, member_ids=tuple(
                i for i in ev.fields.member_ids if i in members
            ))
            remote[ev.uid] = _Remote(obj, replace(ev, fields=fields))

        now = self.clock.now()
        writes: list[_Write] = []
        known = {loc.uid for loc in locals_ if loc.uid}

        async def push(uid: str, fields: EventFields, modified: datetime,
                       on_server: _Remote | None) -> str | None:
            text = event_document(uid, fields, tz, stamp=now, modified=modified,
                                  base_text=on_server.obj.data if on_server else None)
            href = on_server.obj.href if on_server else remote_cal.href_for(uid)
            etag = on_server.obj.etag if on_server else None
            return await asyncio.to_thread(remote_cal.put, href, text, etag)

        tomb_done: list[int] = []
        complete = False
        try:
            for loc in locals_:
                try:
                    w = await self._one(loc, remote.get(loc.uid) if loc.uid else None, push,
                                        tz, report, moved=moved)
                except ChangedOnServer:
                    continue  # edited on the server mid-sync; the next sync sees both sides
                if w is not None:
                    writes.append(w)
            for t in tombs:
                on_server = remote.get(t.external_uid)
                if on_server is not None and t.external_uid not in known and not moved:
                    if on_server.obj.etag is not None and on_server.obj.etag == t.external_etag:
                        try:
                            await asyncio.to_thread(remote_cal.delete, on_server.obj.href,
                                                    on_server.obj.etag)
                            report.deleted_on_server += 1
                        except ChangedOnServer:
                            continue
                    else:
                        # Edited on the server after Luna deleted it: the newer edit comes back.
                        writes.append(self._pulled(on_server, report))
                    known.add(t.external_uid)
                tomb_done.append(t.id)
            for uid, on_server in remote.items():
                if uid not in known:
                    writes.append(self._pulled(on_server, report))
            complete = True
        finally:
            # What already reached the server is recorded even when a later step failed, or the
            # next sync would send it again as new; the calendar counts as synced only when all
            # of it went through.
            await self._store(hid, writes, tomb_done, now, report.calendar if complete else None)
        return report

    @staticmethod
    def _pulled(on_server: _Remote, report: SyncReport) -> _Write:
        report.pulled += 1
        return _Write(None, None, on_server.event.uid, on_server.obj.etag, on_server.event.fields)

    async def _one(
        self, loc: _Local, on_server: _Remote | None, push: _Push, tz: str, report: SyncReport,
        *, moved: bool,
    ) -> _Write | None:
        if loc.uid is None or (on_server is None and moved):
            uid = loc.uid or f"{uuid.uuid4()}@luna"
            etag = await push(uid, loc.fields, loc.updated_at, None)
            report.pushed += 1
            return _Write(loc.id, loc.updated_at, uid, etag, None)
        if on_server is None:
            if not loc.changed:
                report.deleted_in_luna += 1
                return _Write(loc.id, loc.updated_at, loc.uid, None, None, delete=True)
            # Deleted there, edited here since: the edit is the newer intent, so it goes back.
            etag = await push(loc.uid, loc.fields, loc.updated_at, None)
            report.pushed += 1
            report.conflicts.append(
                f"{loc.fields.title}: deleted on the calendar but changed in Luna; put back"
            )
            return _Write(loc.id, loc.updated_at, loc.uid, etag, None)
        remote_changed = on_server.obj.etag is None or on_server.obj.etag != loc.etag
        theirs = on_server.event.fields
        if not on_server.event.has_members:
            theirs = replace(theirs, member_ids=loc.fields.member_ids)
        if not remote_changed and not loc.changed:
            return None
        if theirs == loc.fields:
            return _Write(loc.id, loc.updated_at, loc.uid, on_server.obj.etag, None)
        if not remote_changed:
            etag = await push(loc.uid, loc.fields, loc.updated_at, on_server)
            report.pushed += 1
            return _Write(loc.id, loc.updated_at, loc.uid, etag, None)
        if not loc.changed:
            report.pulled += 1
            return _Write(loc.id, loc.updated_at, loc.uid, on_server.obj.etag, theirs)
        merged, line = resolve_conflict(loc.fields, loc.updated_at, theirs,
                                        on_server.event.last_modified, tz)
        etag = await push(loc.uid, merged, self.clock.now(), on_server)
        report.conflicts.append(line)
        return _Write(loc.id, loc.updated_at, loc.uid, etag, merged)

    async def _store(
        self, hid: int, writes: Sequence[_Write], tomb_done: Sequence[int], now: datetime,
        calendar: str | None,
    ) -> None:
        async with self.db.transaction() as s:
            h = await s.get(Household, hid)
            if h is not None and calendar is not None:
                h.settings = {**(h.settings or {}), STATE_KEY: {"url": calendar,
                                                                "synced_at": now.isoformat()}}
            for w in writes:
                if w.event_id is None:
                    assert w.fields is not None
                    s.add(Event(
                        household_id=hid, **_columns(w.fields), external_uid=w.uid,
                        external_etag=w.etag, synced_at=now, created_at=now, updated_at=now,
                    ))
                    continue
                e = await s.get(Event, w.event_id)
                # Changed in Luna while the server was busy: leave it for the next sync.
                if e is None or e.updated_at != w.seen_updated_at:
                    continue
                if w.delete:
                    await s.delete(e)
                    continue
                if w.fields is not None:
                    for key, value in _columns(w.fields).items():
                        setattr(e, key, value)
                e.external_uid, e.external_etag = w.uid, w.etag
                # Both stamps at once, or the row would look changed in Luna at the next sync.
                e.synced_at = e.updated_at = now
            for tid in tomb_done:
                t = await s.get(EventTombstone, tid)
                if t is not None:
                    await s.delete(t)


def _columns(f: EventFields) -> dict[str, Any]:
    return {
        "title": f.title[:300], "start_at": f.start_at, "end_at": f.end_at,
        "all_day": f.all_day, "location": f.location[:300] if f.location else None,
        "notes": f.notes, "member_ids": list(f.member_ids),
    }
