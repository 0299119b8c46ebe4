"""Two-way CalDAV sync against a real Radicale server on 127.0.0.1 (htpasswd auth, temp storage):
creates, updates and deletes in both directions, conflicts, and a server that fails."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from caldav.calendarobjectresource import Event as DavEvent
from caldav.davclient import DAVClient
from sqlalchemy import create_engine
from typer.testing import CliRunner

from luna.cli import app as cli
from luna.config import load_settings
from luna.db.models import Base
from luna.errors import InvalidInput, Upstream
from luna.runtime import Runtime
from luna.services.access import ADMIN, Actor
from luna.services.container import Services
from luna.testing.clock import FrozenClock
from tests.conftest import NOW, Family

USER, PASSWORD = "family", "s3cret-caldav-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Radicale server of this module's own; yields its base URL."""
    root = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    (root / "users").write_text(f"{USER}:{PASSWORD}\n")
    (root / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {root / 'users'}\n"
        "htpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[logging]\nlevel = error\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(root / "config")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("Radicale did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Phone:
    """Someone editing the family calendar on their phone, straight on the server."""

    def __init__(self, base: str) -> None:
        self.client = DAVClient(url=base, username=USER, password=PASSWORD, auth_type="basic",
                                enable_rfc6764=False)
        cal = self.client.principal().make_calendar(name="Family", cal_id=uuid.uuid4().hex)
        self.url = str(cal.url)
        self.calendar = cal

    def events(self) -> dict[str, tuple[str, icalendar.Component]]:
        """Each event's UID: its URL and its VEVENT."""
        out = {}
        for obj in self.calendar.search(comp_class=DavEvent):  # type: ignore[union-attr]
            ev = icalendar.Calendar.from_ical(obj.data).walk("VEVENT")[0]
            out[str(ev["UID"])] = (str(obj.url), ev)
        return out

    def put(self, uid: str, modified: datetime, href: str | None = None, **props: Any) -> None:
        cal = icalendar.Calendar()
        cal.add("prodid", "-//Phone//EN")
        cal.add("version", "2.0")
        ev = icalendar.Event()
        ev.add("uid", uid)
        ev.add("dtstamp", modified)
        ev.add("last-modified", modified)
        for key, value in props.items():
            ev.add(key, value)
        cal.add_component(ev)
        r = self.client.put(href or f"{self.url}{uid}.ics", cal.to_ical().decode(),
                            {"Content-Type": "text/calendar"})
        assert r.status in (201, 204), r.status

    def edit(self, uid: str, modified: datetime, **changes: Any) -> None:
        href, ev = self.events()[uid]
        for key, value in changes.items():
            ev.pop(key.upper(), None)
            ev.add(key, value)
        ev.pop("LAST-MODIFIED", None)
        ev.add("last-modified", modified)
        cal = icalendar.Calendar()
        cal.add("prodid", "-//Phone//EN")
        cal.add("version", "2.0")
        cal.add_component(ev)
        r = self.client.put(href, cal.to_ical().decode(), {"Content-Type": "text/calendar"})
        assert r.status in (201, 204), r.status

    def delete(self, uid: str) -> None:
        href, _ = self.events()[uid]
        assert self.client.delete(href).status in (200, 204)


@dataclass
class Synced:
    phone: Phone
    services: Services
    actor: Actor
    hid: int


@pytest.fixture
async def synced(radicale: str, services: Services, family: Family) -> Synced:
    phone = Phone(radicale)
    actor = Actor(family.household_id, family.adult_id, "adult")
    shown = await services.caldav.configure(actor, family.household_id, phone.url, USER, PASSWORD)
    assert PASSWORD not in shown
    return Synced(phone, services, actor, family.household_id)


async def tool(client: httpx.AsyncClient, family: Family, name: str, **arguments: Any) -> Any:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True, body
    return body["result"]


async def test_luna_creates_updates_and_deletes_reach_the_calendar(
    client: httpx.AsyncClient, family: Family, synced: Synced, clock: FrozenClock
) -> None:
    event = await tool(client, family, "add_event", title="Dentist", start="tomorrow at 3pm",
                       end="4pm", location="Main St", members=["me"])
    report = await synced.services.caldav.sync(synced.actor)
    assert (report.pushed, report.pulled, report.conflicts) == (1, 0, [])
    [(uid, (_, ev))] = synced.phone.events().items()
    assert uid.endswith("@luna") and str(ev["SUMMARY"]) == "Dentist"
    assert ev.decoded("DTSTART") == datetime(2026, 3, 5, 20, 0, tzinfo=UTC)
    assert ev.decoded("DTEND") == datetime(2026, 3, 5, 21, 0, tzinfo=UTC)
    assert str(ev["LOCATION"]) == "Main St" and str(ev["X-LUNA-MEMBERS"]) == str(family.adult_id)

    idle = await synced.services.caldav.sync(synced.actor)
    assert (idle.pushed, idle.pulled) == (0, 0)  # nothing changed, nothing sent

    clock.advance(timedelta(minutes=5))
    r = await client.patch(f"/api/events/{event['id']}", headers=family.headers(),
                           json={"title": "Dentist (Dr. Lee)",
                                 "start": "2026-03-05T15:30:00-05:00",
                                 "end": "2026-03-05T16:30:00-05:00"})
    assert r.status_code == 200, r.text
    report = await synced.services.caldav.sync(synced.actor)
    assert report.pushed == 1
    [(same, (_, ev))] = synced.phone.events().items()
    assert same == uid  # the same object, updated in place: its UID is stable
    assert str(ev["SUMMARY"]) == "Dentist (Dr. Lee)"
    assert ev.decoded("DTSTART") == datetime(2026, 3, 5, 20, 30, tzinfo=UTC)

    clock.advance(timedelta(minutes=5))
    r = await client.delete(f"/api/events/{event['id']}", headers=family.headers())
    assert r.status_code == 204
    report = await synced.services.caldav.sync(synced.actor)
    assert report.deleted_on_server == 1
    assert synced.phone.events() == {}
    assert (await synced.services.caldav.sync(synced.actor)).deleted_on_server == 0


async def test_calendar_creates_updates_and_deletes_show_up_in_get_schedule(
    client: httpx.AsyncClient, family: Family, synced: Synced, clock: FrozenClock
) -> None:
    phone = synced.phone
    phone.put("soccer-1", NOW, summary="Soccer practice", location="Field 3",
              dtstart=datetime(2026, 3, 5, 22, 0, tzinfo=UTC),
              dtend=datetime(2026, 3, 5, 23, 30, tzinfo=UTC))
    phone.put("grandma-1", NOW, summary="Grandma visits", dtstart=datetime(2026, 3, 5).date(),
              dtend=datetime(2026, 3, 7).date())
    phone.put("weekly-1", NOW, summary="Yoga", rrule={"freq": "weekly"},
              dtstart=datetime(2026, 3, 5, 13, 0, tzinfo=UTC))
    report = await synced.services.caldav.sync(synced.actor)
    assert (report.pulled, report.skipped) == (2, 1)  # a recurring series stays on the server

    day = await tool(client, family, "get_schedule", start="tomorrow")
    by_title = {e["title"]: e for e in day["events"]}
    assert set(by_title) == {"Soccer practice", "Grandma visits"}
    assert by_title["Soccer practice"]["start"] == "2026-03-05T17:00:00-05:00"
    assert by_title["Soccer practice"]["location"] == "Field 3"
    assert by_title["Grandma visits"]["all_day"] is True
    assert by_title["Grandma visits"]["end"] == "2026-03-07T00:00:00-05:00"
    assert by_title["Soccer practice"]["member_ids"] == []  # the whole family's

    phone.edit("soccer-1", NOW + timedelta(minutes=10), summary="Soccer match",
               dtstart=datetime(2026, 3, 5, 23, 0, tzinfo=UTC),
               dtend=datetime(2026, 3, 6, 0, 30, tzinfo=UTC))
    clock.advance(timedelta(minutes=15))
    report = await synced.services.caldav.sync(synced.actor)
    assert (report.pulled, report.pushed, report.conflicts) == (1, 0, [])
    day = await tool(client, family, "get_schedule", start="tomorrow")
    soccer = next(e for e in day["events"] if e["title"] == "Soccer match")
    assert soccer["start"] == "2026-03-05T18:00:00-05:00"

    phone.delete("grandma-1")
    report = await synced.services.caldav.sync(synced.actor)
    assert report.deleted_in_luna == 1
    day = await tool(client, family, "get_schedule", start="tomorrow")
    assert [e["title"] for e in day["events"]] == ["Soccer match"]
    assert set(phone.events()) == {"soccer-1", "weekly-1"}  # Luna never touched the series


async def test_a_conflict_keeps_the_later_version_and_the_others_text_in_the_notes(
    client: httpx.AsyncClient, family: Family, synced: Synced, clock: FrozenClock
) -> None:
    piano = await tool(client, family, "add_event", title="Piano lesson",
                       start="2026-03-06T16:00", end="2026-03-06T17:00", location="Room 2")
    swim = await tool(client, family, "add_event", title="Swimming", start="2026-03-07T09:00")
    await synced.services.caldav.sync(synced.actor)
    uids = {str(ev["SUMMARY"]): uid for uid, (_, ev) in synced.phone.events().items()}

    # Piano: Luna edits first, the phone later, so the phone's version wins.
    clock.advance(timedelta(minutes=5))
    r = await client.patch(f"/api/events/{piano['id']}", headers=family.headers(),
                           json={"location": "Room 7"})
    assert r.status_code == 200, r.text
    synced.phone.edit(uids["Piano lesson"], NOW + timedelta(minutes=10),
                      summary="Piano lesson (moved)",
                      dtstart=datetime(2026, 3, 6, 22, 0, tzinfo=UTC),
                      dtend=datetime(2026, 3, 6, 23, 0, tzinfo=UTC))
    # Swimming: the phone edits first, Luna later, so Luna's version wins.
    synced.phone.edit(uids["Swimming"], NOW + timedelta(minutes=6), summary="Swim meet")
    clock.advance(timedelta(minutes=10))
    r = await client.patch(f"/api/events/{swim['id']}", headers=family.headers(),
                           json={"location": "Aquatic centre", "notes": "bring goggles"})
    assert r.status_code == 200, r.text

    clock.advance(timedelta(minutes=1))
    report = await synced.services.caldav.sync(synced.actor)
    assert len(report.conflicts) == 2, report

    got = (await client.get(f"/api/events/{piano['id']}", headers=family.headers())).json()
    assert got["title"] == "Piano lesson (moved)" and got["location"] == "Room 2"
    assert got["start"] == "2026-03-06T17:00:00-05:00"
    assert got["notes"].startswith("Conflict: Luna had “Piano lesson” Fri 06 Mar 2026 16:00–17:00")
    assert "at Room 7" in got["notes"]  # Luna's losing change is kept, in words

    got = (await client.get(f"/api/events/{swim['id']}", headers=family.headers())).json()
    assert got["title"] == "Swimming" and got["location"] == "Aquatic centre"
    assert got["notes"].startswith("bring goggles\n\nConflict: the calendar had “Swim meet”")

    # Both sides now hold the same merged versions, and the next sync has nothing to do.
    on_server = {uid: ev for uid, (_, ev) in synced.phone.events().items()}
    assert "Conflict: Luna had" in str(on_server[uids["Piano lesson"]]["DESCRIPTION"])
    assert str(on_server[uids["Swimming"]]["SUMMARY"]) == "Swimming"
    assert "Conflict: the calendar had" in str(on_server[uids["Swimming"]]["DESCRIPTION"])
    clock.advance(timedelta(minutes=1))
    idle = await synced.services.caldav.sync(synced.actor)
    assert (idle.pushed, idle.pulled, idle.conflicts) == (0, 0, [])


async def test_a_delete_on_one_side_never_loses_an_edit_on_the_other(
    client: httpx.AsyncClient, family: Family, synced: Synced, clock: FrozenClock
) -> None:
    kept = await tool(client, family, "add_event", title="Book club", start="2026-03-09T19:00")
    gone = await tool(client, family, "add_event", title="Car service", start="2026-03-10T08:00")
    await synced.services.caldav.sync(synced.actor)
    uids = {str(ev["SUMMARY"]): uid for uid, (_, ev) in synced.phone.events().items()}

    synced.phone.delete(uids["Book club"])  # deleted there ...
    clock.advance(timedelta(minutes=5))
    r = await client.patch(f"/api/events/{kept['id']}", headers=family.headers(),
                           json={"location": "Library"})  # ... but changed here
    assert r.status_code == 200
    r = await client.delete(f"/api/events/{gone['id']}", headers=family.headers())  # and back
    assert r.status_code == 204
    synced.phone.edit(uids["Car service"], NOW + timedelta(minutes=8), summary="Car service 9am")

    clock.advance(timedelta(minutes=5))
    report = await synced.services.caldav.sync(synced.actor)
    assert report.deleted_on_server == 0 and report.pulled == 1
    on_server = {str(ev["SUMMARY"]) for _, (_, ev) in synced.phone.events().items()}
    assert on_server == {"Book club", "Car service 9am"}
    week = await tool(client, family, "get_schedule", start="2026-03-09", end="2026-03-10")
    assert sorted(e["title"] for e in week["events"]) == ["Book club", "Car service 9am"]


async def test_moving_to_another_calendar_copies_everything_and_deletes_nothing(
    client: httpx.AsyncClient, family: Family, synced: Synced, radicale: str, clock: FrozenClock
) -> None:
    await tool(client, family, "add_event", title="Haircut", start="2026-03-06T10:00")
    synced.phone.put("phone-1", NOW, summary="Vet", dtstart=datetime(2026, 3, 6, 20, tzinfo=UTC))
    await synced.services.caldav.sync(synced.actor)
    fresh = Phone(radicale)
    await synced.services.caldav.configure(synced.actor, synced.hid, fresh.url, USER, PASSWORD)
    clock.advance(timedelta(minutes=1))
    report = await synced.services.caldav.sync(synced.actor)
    assert (report.pushed, report.deleted_in_luna) == (2, 0)
    assert {str(ev["SUMMARY"]) for _, (_, ev) in fresh.events().items()} == {"Haircut", "Vet"}
    assert set(fresh.events()) == set(synced.phone.events())  # the same UIDs in both
    fresh.delete("phone-1")  # and from now on, deletes on the new calendar count
    assert (await synced.services.caldav.sync(synced.actor)).deleted_in_luna == 1


async def test_only_the_configured_household_syncs_and_nothing_crosses_households(
    client: httpx.AsyncClient, family: Family, other_family: Family, synced: Synced
) -> None:
    await tool(client, family, "add_event", title="Ours", start="2026-03-06T10:00")
    await tool(client, other_family, "add_event", title="Theirs", start="2026-03-06T11:00")
    reports = await synced.services.caldav.sync_all()
    assert [r.household_id for r in reports] == [family.household_id]
    assert [str(ev["SUMMARY"]) for _, (_, ev) in synced.phone.events().items()] == ["Ours"]
    other = Actor(other_family.household_id, other_family.adult_id, "adult")
    with pytest.raises(InvalidInput, match="no CalDAV calendar"):
        await synced.services.caldav.sync(other)
    with pytest.raises(Exception, match="not found"):
        await synced.services.caldav.sync(other, family.household_id)
    child = Actor(family.household_id, family.child_id, "child")
    with pytest.raises(Exception, match="grown-up"):
        await synced.services.caldav.sync(child)


async def test_wrong_credentials_and_a_dead_server_are_clear_errors_without_the_password(
    radicale: str, services: Services, family: Family
) -> None:
    phone = Phone(radicale)
    actor = Actor(family.household_id, family.adult_id, "adult")
    await services.caldav.configure(actor, family.household_id, phone.url, USER, "wrong-pw")
    with pytest.raises(Upstream) as refused:
        await services.caldav.sync(actor)
    assert "refused the credentials" in refused.value.detail
    dead = f"http://{USER}:{PASSWORD}@127.0.0.1:{_free_port()}/family/cal/"
    await services.caldav.configure(actor, family.household_id, dead, USER, PASSWORD)
    with pytest.raises(Upstream) as down:
        await services.caldav.sync(actor)
    assert "127.0.0.1" in down.value.detail
    for detail in (refused.value.detail, down.value.detail):
        assert PASSWORD not in detail and "wrong-pw" not in detail


def test_luna_caldav_sync_command(
    radicale: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    monkeypatch.setenv("LUNA_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    phone = Phone(radicale)
    runner = CliRunner()
    assert "no household" in runner.invoke(cli, ["caldav", "sync"]).output

    async def seed() -> None:
        async with Runtime(load_settings()) as rt:
            h = await rt.services.members.create_household(
                ADMIN, name="Home", timezone="America/New_York", admin_name="Maya")
            me = Actor(h.id, h.admin_member_id, "adult")
            await rt.services.calendar.add(me, "Picnic", datetime(2030, 5, 1, 16, tzinfo=UTC))

    asyncio.run(seed())
    out = runner.invoke(cli, ["caldav", "configure", "--household", "1", "--url", phone.url,
                              "--username", USER, "--password", PASSWORD])
    assert out.exit_code == 0, out.output
    assert PASSWORD not in out.output
    out = runner.invoke(cli, ["caldav", "sync"])
    assert out.exit_code == 0, out.output
    assert "1 sent" in " ".join(out.output.split()) and PASSWORD not in out.output
    assert [str(ev["SUMMARY"]) for _, (_, ev) in phone.events().items()] == ["Picnic"]
