"""iCal feeds at secret URLs: what they hold, who sees what, and revoking them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx
import icalendar

from luna.config import load_settings
from tests.conftest import Family

PUBLIC = load_settings().public_url.rstrip("/")


async def make_feed(
    client: httpx.AsyncClient, family: Family, who: str = "adult", **body: Any
) -> dict[str, Any]:
    r = await client.post("/api/feeds", json=body, headers=family.headers(who))
    assert r.status_code == 201, r.text
    feed: dict[str, Any] = r.json()
    assert feed["url"].startswith(f"{PUBLIC}/feeds/") and feed["url"].endswith(".ics")
    return feed


async def fetch(client: httpx.AsyncClient, url: str) -> httpx.Response:
    # Calendar apps send no credentials: the URL alone must be enough.
    return await client.get(url.removeprefix(PUBLIC))


async def parse(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    r = await fetch(client, url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.text)
    return {str(ev["UID"]): ev for ev in cal.walk("VEVENT")}


async def seed(client: httpx.AsyncClient, family: Family) -> dict[str, int]:
    """Events, chores and tasks for the whole family and for one member each."""
    h = family.headers()
    ids: dict[str, int] = {}
    for key, body in {
        "dinner": {"title": "Family dinner", "start": "2026-03-06T18:00:00-05:00",
                   "end": "2026-03-06T19:30:00-05:00", "location": "Nonna's"},
        "recital": {"title": "Ava's recital", "start": "2026-03-07T15:00:00-05:00",
                    "member_ids": [family.child_id]},
        "poker": {"title": "Poker night", "start": "2026-03-07T20:00:00-05:00",
                  "member_ids": [family.partner_id]},
        "trip": {"title": "Ski trip", "start": "2026-03-13T00:00:00-04:00", "all_day": True,
                 "end": "2026-03-15T00:00:00-04:00"},
    }.items():
        r = await client.post("/api/events", json=body, headers=h)
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    for key, body in {
        "trash": {"title": "Take out trash", "assignee_id": family.child_id,
                  "schedule": {"kind": "weekly", "weekdays": ["mon", "thu"]}},
        "plants": {"title": "Water plants", "assignee_id": family.partner_id, "due_time": "18:30",
                   "schedule": {"kind": "every_n_days", "interval_days": 3}},
        "fridge": {"title": "Clean the fridge", "assignee_id": family.adult_id,
                   "schedule": {"kind": "every_n_days", "interval_days": 30,
                                "from_completion": True, "date": "2026-03-10"}},
        "gutters": {"title": "Clear gutters", "assignee_id": family.adult_id,
                    "schedule": {"kind": "once", "date": "2026-03-08"}},
        "dishes": {"title": "Dishes", "assignment_mode": "rotation",
                   "rotation_member_ids": [family.child_id, family.partner_id],
                   "schedule": {"kind": "weekly", "weekdays": ["wed"]}},
    }.items():
        r = await client.post("/api/chores", json=body, headers=h)
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    for key, body in {
        "rent": {"title": "Pay rent", "due_at": "2026-03-06T12:00:00-05:00"},
        "essay": {"title": "Essay", "member_id": family.child_id,
                  "due_at": "2026-03-09T08:00:00-04:00"},
        "someday": {"title": "Learn Italian"},
    }.items():
        r = await client.post("/api/tasks", json=body, headers=h)
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    return ids


async def test_household_feed_parses_back_with_events_chores_and_task_due_dates(
    client: httpx.AsyncClient, family: Family
) -> None:
    ids = await seed(client, family)
    feed = await make_feed(client, family)
    assert feed["member_id"] is None
    events = await parse(client, feed["url"])

    dinner = events[f"event-{ids['dinner']}@luna"]
    assert str(dinner["SUMMARY"]) == "Family dinner" and str(dinner["LOCATION"]) == "Nonna's"
    assert dinner.decoded("DTSTART") == datetime.fromisoformat("2026-03-06T18:00:00-05:00")
    assert dinner.decoded("DTEND") == datetime.fromisoformat("2026-03-06T19:30:00-05:00")
    trip = events[f"event-{ids['trip']}@luna"]
    assert trip.decoded("DTSTART") == date(2026, 3, 13)  # all day: dates, not times
    assert trip.decoded("DTEND") == date(2026, 3, 15)

    trash = events[f"chore-{ids['trash']}@luna"]
    assert trash["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=MO,TH"
    assert trash.decoded("DTSTART") == date(2026, 3, 5)  # the next Monday-or-Thursday
    assert str(trash["SUMMARY"]) == "Take out trash (Ava)"
    plants = events[f"chore-{ids['plants']}@luna"]
    assert plants["RRULE"].to_ical() == b"FREQ=DAILY;INTERVAL=3"
    start = plants.decoded("DTSTART")
    assert start.isoformat() == "2026-03-04T18:30:00-05:00"  # its due time, in the family's zone
    assert str(plants["DTSTART"].params["TZID"]) == "America/New_York"
    fridge = events[f"chore-{ids['fridge']}@luna"]
    assert "RRULE" not in fridge and fridge.decoded("DTSTART") == date(2026, 3, 10)
    gutters = events[f"chore-{ids['gutters']}@luna"]
    assert "RRULE" not in gutters and gutters.decoded("DTSTART") == date(2026, 3, 8)
    assert "RRULE" in events[f"chore-{ids['dishes']}@luna"]

    rent = events[f"task-{ids['rent']}@luna"]
    assert str(rent["SUMMARY"]) == "Due: Pay rent (Maya)"
    assert rent.decoded("DTSTART") == datetime.fromisoformat("2026-03-06T12:00:00-05:00")
    assert f"task-{ids['essay']}@luna" in events
    assert f"task-{ids['someday']}@luna" not in events  # no due date, nothing to show


async def test_member_feed_holds_only_that_members_things_and_family_events(
    client: httpx.AsyncClient, family: Family
) -> None:
    ids = await seed(client, family)
    feed = await make_feed(client, family, "child", member_id=family.child_id)
    events = await parse(client, feed["url"])
    assert set(events) == {
        f"event-{ids['dinner']}@luna", f"event-{ids['recital']}@luna",
        f"event-{ids['trip']}@luna", f"chore-{ids['trash']}@luna",
        f"chore-{ids['dishes']}@luna", f"task-{ids['essay']}@luna",
    }
    assert str(events[f"chore-{ids['trash']}@luna"]["SUMMARY"]) == "Take out trash"
    # Ava holds the dishes this week only: her feed can't promise her the later turns.
    assert "RRULE" not in events[f"chore-{ids['dishes']}@luna"]
    assert "RRULE" in events[f"chore-{ids['trash']}@luna"]


async def test_revoked_and_unknown_feed_urls_answer_404(
    client: httpx.AsyncClient, family: Family
) -> None:
    feed = await make_feed(client, family)
    assert (await fetch(client, feed["url"])).status_code == 200
    r = await client.delete(f"/api/feeds/{feed['id']}", headers=family.headers())
    assert r.status_code == 204
    r = await fetch(client, feed["url"])
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert (await client.get("/feeds/not-a-real-secret.ics")).status_code == 404
    listed = (await client.get("/api/feeds", headers=family.headers())).json()
    assert [f["revoked_at"] is not None for f in listed] == [True]
    again = await client.delete(f"/api/feeds/{feed['id']}", headers=family.headers())
    assert again.status_code == 204  # revoking twice is harmless
    second = await make_feed(client, family)
    assert (await fetch(client, second["url"])).status_code == 200  # a fresh URL works


async def test_another_households_feed_never_shows_this_households_data(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    ids = await seed(client, family)
    r = await client.post("/api/events", headers=other_family.headers(),
                          json={"title": "Okafor picnic", "start": "2026-03-08T12:00:00-05:00"})
    assert r.status_code == 201, r.text
    picnic = r.json()["id"]
    ours = await make_feed(client, family)
    theirs = await make_feed(client, other_family)
    assert set(await parse(client, theirs["url"])) == {f"event-{picnic}@luna"}
    assert f"event-{picnic}@luna" not in await parse(client, ours["url"])
    assert f"event-{ids['dinner']}@luna" in await parse(client, ours["url"])
    # Their ids are not found here, whether revoking, or making a feed of our members.
    r = await client.delete(f"/api/feeds/{ours['id']}", headers=other_family.headers())
    assert r.status_code == 404
    r = await client.post("/api/feeds", json={"member_id": family.child_id},
                          headers=other_family.headers())
    assert r.status_code == 404
    assert [f["id"] for f in (await client.get("/api/feeds",
                                                headers=other_family.headers())).json()] == [
        theirs["id"]
    ]
    assert (await fetch(client, ours["url"])).status_code == 200


async def test_a_child_gets_a_feed_of_their_own_only(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/feeds", json={}, headers=family.headers("child"))
    assert r.status_code == 403
    r = await client.post("/api/feeds", json={"member_id": family.adult_id},
                          headers=family.headers("child"))
    assert r.status_code == 403
    own = await make_feed(client, family, "child", member_id=family.child_id)
    household = await make_feed(client, family)
    listed = (await client.get("/api/feeds", headers=family.headers("child"))).json()
    assert [f["id"] for f in listed] == [own["id"]]
    r = await client.delete(f"/api/feeds/{household['id']}", headers=family.headers("child"))
    assert r.status_code == 403
    assert (await client.delete(f"/api/feeds/{own['id']}",
                                headers=family.headers("child"))).status_code == 204
    assert (await client.post("/api/feeds", json={})).status_code == 401
