"""Daily check-ins: one merged row per member and local day, through the API and the tool."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import httpx

from luna.services.access import Actor
from luna.services.container import Services
from luna.testing.clock import FrozenClock

if TYPE_CHECKING:
    from conftest import Family


async def call_tool(
    client: httpx.AsyncClient, fam: Family, tool: str, who: str = "adult",
    member_id: int | None = None, **arguments: Any,
) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{tool}", json={"member_id": member_id,
                                                     "arguments": arguments},
                          headers=fam.headers(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def checkins(client: httpx.AsyncClient, fam: Family, **params: Any) -> list[Any]:
    r = await client.get("/api/checkins", params=params, headers=fam.headers())
    assert r.status_code == 200, r.text
    rows: list[Any] = r.json()
    return rows


async def test_update_daily_metrics_merges_two_calls_into_one_row(
    client: httpx.AsyncClient, family: Family
) -> None:
    first = await call_tool(client, family, "update_daily_metrics", sleep_quality=4, mood=6,
                            notes="woke up at 5")
    assert first["ok"] is True, first
    second = await call_tool(client, family, "update_daily_metrics", mood=8,
                             exercise_minutes=30, notes="ran in the park")
    assert second["ok"] is True, second
    assert second["result"] == {
        "member_id": family.adult_id, "date": "2026-03-04", "sleep_quality": 4, "mood": 8,
        "energy": None, "exercise_minutes": 30, "notes": "woke up at 5\nran in the park",
    }
    rows = await checkins(client, family, member_id=family.adult_id)
    assert rows == [second["result"]]


async def test_out_of_range_metrics_are_error_results(
    client: httpx.AsyncClient, family: Family
) -> None:
    for args in ({"mood": 11}, {"energy": 0}, {"exercise_minutes": -5},
                 {"exercise_minutes": 2000}, {"sleep_quality": "great"}):
        out = await call_tool(client, family, "update_daily_metrics", **args)
        assert out["ok"] is False and out["error"] == "invalid_arguments", (args, out)
    empty = await call_tool(client, family, "update_daily_metrics")
    assert empty["ok"] is False and empty["error"] == "invalid_input"
    future = await call_tool(client, family, "update_daily_metrics", mood=5, day="2026-03-06")
    assert future["ok"] is False and future["error"] == "invalid_input"
    assert await checkins(client, family) == []


async def test_yesterday_and_the_day_boundary_choose_the_row(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    out = await call_tool(client, family, "update_daily_metrics", energy=3, day="yesterday")
    assert out["result"]["date"] == "2026-03-03"
    clock.set(datetime(2026, 3, 5, 6, 30, tzinfo=UTC))  # 01:30: still Wednesday for the member
    late = await call_tool(client, family, "update_daily_metrics", mood=9)
    assert late["result"]["date"] == "2026-03-04"
    assert [r["date"] for r in await checkins(client, family)] == ["2026-03-03", "2026-03-04"]


async def test_put_merges_into_the_days_row_and_validates(
    client: httpx.AsyncClient, family: Family
) -> None:
    url = f"/api/checkins/{family.adult_id}/2026-03-02"
    r = await client.put(url, json={"mood": 5, "notes": "tired"}, headers=family.headers())
    assert r.status_code == 200, r.text
    r = await client.put(url, json={"mood": None, "energy": 7, "notes": "better later"},
                         headers=family.headers())
    assert r.json() == {"member_id": family.adult_id, "date": "2026-03-02", "sleep_quality": None,
                        "mood": 5, "energy": 7, "exercise_minutes": None,
                        "notes": "tired\nbetter later"}
    for body in ({"mood": 11}, {"exercise_minutes": 1441}, {"colour": "blue"}, {}):
        r = await client.put(url, json=body, headers=family.headers())
        assert r.status_code == 422, (body, r.text)
    r = await client.put(f"/api/checkins/{family.adult_id}/2026-03-09", json={"mood": 5},
                         headers=family.headers())
    assert r.status_code == 422


async def test_list_filters_by_member_and_date_range(
    client: httpx.AsyncClient, family: Family
) -> None:
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        r = await client.put(f"/api/checkins/{family.adult_id}/{day}", json={"mood": 6},
                             headers=family.headers())
        assert r.status_code == 200
    await client.put(f"/api/checkins/{family.child_id}/2026-03-02", json={"mood": 9},
                     headers=family.headers("child"))
    rows = await checkins(client, family, member_id=family.adult_id, **{"from": "2026-03-02"})
    assert [r["date"] for r in rows] == ["2026-03-02", "2026-03-03"]
    rows = await checkins(client, family, **{"from": "2026-03-02", "to": "2026-03-02"})
    assert {r["member_id"] for r in rows} == {family.adult_id, family.child_id}
    r = await client.get("/api/checkins", headers=family.headers("child"))
    assert [x["member_id"] for x in r.json()] == [family.child_id]
    r = await client.get("/api/checkins", params={"from": "2026-03-03", "to": "2026-03-01"},
                         headers=family.headers())
    assert r.status_code == 422


async def test_concurrent_upserts_of_the_same_day_merge_into_one_row(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    actor = Actor(household_id=family.household_id, member_id=family.adult_id, role="adult")
    svc = services.checkins
    await asyncio.gather(
        svc.upsert(actor, family.adult_id, None, mood=7, notes="one"),
        svc.upsert(actor, family.adult_id, None, energy=4, notes="two"),
        svc.upsert(actor, family.adult_id, None, sleep_quality=8, notes="three"),
        svc.upsert(actor, family.adult_id, None, exercise_minutes=20, notes="four"),
    )
    rows = await svc.list(actor, family.adult_id)
    assert len(rows) == 1
    row = rows[0]
    assert row.date == date(2026, 3, 4)
    assert (row.mood, row.energy, row.sleep_quality, row.exercise_minutes) == (7, 4, 8, 20)
    assert row.notes is not None and sorted(row.notes.split("\n")) == ["four", "one", "three",
                                                                       "two"]
    today = await svc.today(actor, family.adult_id)
    assert today == row


async def test_a_child_cannot_touch_another_members_checkins(
    client: httpx.AsyncClient, family: Family
) -> None:
    child = family.headers("child")
    r = await client.put(f"/api/checkins/{family.adult_id}/2026-03-04", json={"mood": 1},
                         headers=child)
    assert r.status_code == 403
    r = await client.get("/api/checkins", params={"member_id": family.adult_id}, headers=child)
    assert r.status_code == 403
    r = await client.put(f"/api/checkins/{family.child_id}/2026-03-04", json={"mood": 8},
                         headers=child)
    assert r.status_code == 200
    r = await client.post("/api/tools/update_daily_metrics", headers=child,
                          json={"member_id": family.adult_id, "arguments": {"mood": 1}})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    rows = await checkins(client, family, member_id=family.adult_id)
    assert rows == []


async def test_another_household_gets_404_for_our_checkins_and_members(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await client.put(f"/api/checkins/{family.adult_id}/2026-03-04", json={"mood": 6},
                         headers=family.headers())
    assert r.status_code == 200
    them = other_family.headers()
    answers = [
        await client.put(f"/api/checkins/{family.adult_id}/2026-03-04", json={"mood": 1},
                         headers=them),
        await client.get("/api/checkins", params={"member_id": family.adult_id}, headers=them),
        await client.post("/api/tools/update_daily_metrics", headers=them,
                          json={"member_id": family.adult_id, "arguments": {"mood": 1}}),
    ]
    for r in answers:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert r.json()["error"] == "not_found"
    assert (await client.get("/api/checkins", headers=them)).json() == []
    assert (await checkins(client, family))[0]["mood"] == 6
