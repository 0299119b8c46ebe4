"""The family calendar through the REST API and the tools, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from luna.errors import InvalidInput, NotFound
from luna.services.access import Actor
from luna.services.container import Services
from tests.conftest import Family


async def tool(client: httpx.AsyncClient, family: Family, name: str, who: str = "adult",
               **arguments: object) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def post_event(client: httpx.AsyncClient, family: Family, **body: object) -> httpx.Response:
    return await client.post("/api/events", json=body, headers=family.headers())


async def test_add_event_tool_then_get_schedule_sees_it(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "add_event", title="Dentist", start="tomorrow at 3pm",
                     end="4pm", location="Main St", members=["me"])
    assert res["ok"] is True, res
    event = res["result"]
    assert event["start"] == "2026-03-05T15:00:00-05:00"
    assert event["end"] == "2026-03-05T16:00:00-05:00"  # "4pm" is the same day as the start
    assert event["member_ids"] == [family.adult_id]

    today = await tool(client, family, "get_schedule")
    assert today["ok"] is True and today["result"]["events"] == []
    res = await tool(client, family, "get_schedule", start="tomorrow")
    assert res["ok"] is True, res
    assert [e["title"] for e in res["result"]["events"]] == ["Dentist"]
    assert res["result"]["member"] == "Maya"


async def test_get_schedule_includes_tasks_due_in_the_window(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "Pay rent",
                                              "due_at": "2026-03-06T12:00:00-05:00"},
                          headers=family.headers())
    assert r.status_code == 201, r.text
    res = await tool(client, family, "get_schedule", start="today", end="friday")
    assert res["ok"] is True, res
    assert [t["title"] for t in res["result"]["tasks"]] == ["Pay rent"]
    assert res["result"]["end"] == "2026-03-07T00:00:00-05:00"  # friday itself is included


async def test_schedule_for_a_member_shows_their_and_whole_family_events_only(
    client: httpx.AsyncClient, family: Family
) -> None:
    for title, members in (("Recital", ["Ava"]), ("Dinner out", []), ("Poker", ["Benny"])):
        res = await tool(client, family, "add_event", title=title, start="tomorrow at 6pm",
                         members=members)
        assert res["ok"] is True, res
    res = await tool(client, family, "get_schedule", start="tomorrow", member="ava")
    assert res["ok"] is True, res
    assert sorted(e["title"] for e in res["result"]["events"]) == ["Dinner out", "Recital"]


async def test_add_event_in_the_past_is_an_error_result(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "add_event", title="Too late", start="2026-03-01T09:00")
    assert res["ok"] is False
    assert res["error"] == "invalid_input" and "past" in res["detail"]


async def test_add_event_with_a_member_of_another_household_is_not_found(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await client.post("/api/members", json={"name": "Priya"},
                          headers=other_family.headers())
    assert r.status_code == 201
    res = await tool(client, family, "add_event", title="Playdate", start="tomorrow at 4pm",
                     members=["Priya"])
    assert res["ok"] is False and res["error"] == "not_found"
    r = await post_event(client, family, title="Playdate", start="2026-03-05T16:00:00-05:00",
                         member_ids=[r.json()["id"]])
    assert r.status_code == 404


async def test_event_ending_before_it_starts_is_422(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await post_event(client, family, title="Backwards", start="2026-03-05T16:00:00-05:00",
                         end="2026-03-05T15:00:00-05:00")
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_input"


async def test_all_day_event_runs_local_midnight_to_midnight(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await post_event(client, family, title="Grandma visits", start="2026-03-07T13:00:00Z",
                         end="2026-03-08T12:00:00-05:00", all_day=True)
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["start"] == "2026-03-07T00:00:00-05:00"
    # Through Sunday the 8th, which ends at Monday midnight, after the DST change.
    assert event["end"] == "2026-03-09T00:00:00-04:00"
    r = await client.patch(f"/api/events/{event['id']}", json={"end": event["end"]},
                           headers=family.headers())
    assert r.status_code == 200 and r.json()["end"] == event["end"]  # re-saving doesn't grow it


async def test_event_crud_and_window_listing(client: httpx.AsyncClient, family: Family) -> None:
    r = await post_event(client, family, title="Soccer", start="2026-03-06T17:00:00-05:00",
                         end="2026-03-06T18:30:00-05:00", member_ids=[family.child_id])
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    r = await client.get("/api/events", headers=family.headers())
    assert [e["id"] for e in r.json()] == [eid]  # default: the next 7 days
    r = await client.get("/api/events", params={"from": "2026-03-07", "to": "2026-03-08"},
                         headers=family.headers())
    assert r.json() == []
    r = await client.get("/api/events", params={"from": "2026-03-06", "to": "2026-03-06"},
                         headers=family.headers())
    assert [e["id"] for e in r.json()] == [eid]  # a bare "to" date is included
    r = await client.patch(f"/api/events/{eid}", json={"title": "Soccer practice",
                                                       "location": "Park"},
                           headers=family.headers())
    assert r.status_code == 200 and r.json()["title"] == "Soccer practice"
    r = await client.get(f"/api/events/{eid}", headers=family.headers("child"))
    assert r.status_code == 200 and r.json()["location"] == "Park"
    r = await client.delete(f"/api/events/{eid}", headers=family.headers("child"))
    assert r.status_code == 403  # a child changes only the events they added
    r = await client.delete(f"/api/events/{eid}", headers=family.headers())
    assert r.status_code == 204
    r = await client.get(f"/api/events/{eid}", headers=family.headers())
    assert r.status_code == 404


async def test_other_household_cannot_see_or_change_an_event(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await post_event(client, family, title="Private", start="2026-03-06T17:00:00-05:00")
    eid = r.json()["id"]
    h = other_family.headers()
    assert (await client.get(f"/api/events/{eid}", headers=h)).status_code == 404
    assert (await client.patch(f"/api/events/{eid}", json={"title": "x"},
                               headers=h)).status_code == 404
    assert (await client.delete(f"/api/events/{eid}", headers=h)).status_code == 404
    assert (await client.get("/api/events", headers=h)).json() == []


async def test_find_matches_upcoming_events_fuzzily(
    services: Services, client: httpx.AsyncClient, family: Family
) -> None:
    actor = Actor(household_id=family.household_id, member_id=family.adult_id, role="adult")
    now = services.clock.now()
    await services.calendar.add(actor, "Piano lesson", now - timedelta(days=2))
    await services.calendar.add(actor, "Parent teacher conference", now + timedelta(days=2))
    found = await services.calendar.find(actor, "teacher conference")
    assert found.title == "Parent teacher conference"
    with pytest.raises(NotFound):
        await services.calendar.find(actor, "piano lesson")  # that one is over
    with pytest.raises(InvalidInput):
        await services.calendar.add(actor, "  ", now)
