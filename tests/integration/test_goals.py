"""Goals through the HTTP API and the assistant's tools: progress, completion, access rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

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


async def make_goal(
    client: httpx.AsyncClient, fam: Family, who: str = "adult", **fields: Any
) -> dict[str, Any]:
    r = await client.post("/api/goals", json={"title": "Run 50 km", **fields},
                          headers=fam.headers(who))
    assert r.status_code == 201, r.text
    goal: dict[str, Any] = r.json()
    return goal


async def test_goal_crud_with_a_default_target_date(
    client: httpx.AsyncClient, family: Family
) -> None:
    g = await make_goal(client, family, target_value=50, unit="km", category="fitness")
    assert g["member_id"] == family.adult_id and g["status"] == "active"
    assert g["timeframe"] == "monthly" and g["target_date"] == "2026-03-31"
    assert g["baseline_value"] == 0 and g["current_value"] == 0 and g["progress"] == 0
    weekly = await make_goal(client, family, title="Call grandma", timeframe="weekly")
    assert weekly["target_date"] == "2026-03-08"  # the Sunday ending this week
    assert weekly["current_value"] is None and weekly["progress"] == 0
    forever = await make_goal(client, family, title="Learn piano", timeframe="long_term")
    assert forever["target_date"] is None

    r = await client.patch(f"/api/goals/{g['id']}", json={"title": "Run 60 km",
                                                          "target_value": 60},
                           headers=family.headers())
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Run 60 km" and r.json()["target_value"] == 60

    r = await client.get(f"/api/goals/{g['id']}", headers=family.headers())
    assert r.json()["title"] == "Run 60 km"
    r = await client.get("/api/goals", headers=family.headers())
    assert len(r.json()) == 3
    assert (await client.delete(f"/api/goals/{weekly['id']}",
                                headers=family.headers())).status_code == 204
    assert (await client.get(f"/api/goals/{weekly['id']}",
                             headers=family.headers())).status_code == 404


async def test_patching_current_value_recomputes_progress_and_completes_at_target(
    client: httpx.AsyncClient, family: Family
) -> None:
    g = await make_goal(client, family, title="Lose weight", unit="kg", baseline_value=90,
                        target_value=80)
    r = await client.patch(f"/api/goals/{g['id']}", json={"current_value": 85},
                           headers=family.headers())
    assert r.json()["progress"] == 50 and r.json()["status"] == "active"
    r = await client.patch(f"/api/goals/{g['id']}", json={"current_value": 79.5},
                           headers=family.headers())
    assert r.json()["progress"] == 100 and r.json()["status"] == "completed"
    r = await client.get("/api/goals", params={"status": "completed"}, headers=family.headers())
    assert [x["id"] for x in r.json()] == [g["id"]]
    r = await client.get("/api/goals", params={"status": "active"}, headers=family.headers())
    assert r.json() == []


async def test_bad_goal_input_is_rejected(client: httpx.AsyncClient, family: Family) -> None:
    for body in ({"title": "x", "target_date": "2026-03-01"},
                 {"title": "x", "timeframe": "someday"},
                 {"title": "x", "target_value": 0},
                 {"title": " "}):
        r = await client.post("/api/goals", json=body, headers=family.headers())
        assert r.status_code == 422, (body, r.text)
    g = await make_goal(client, family)
    r = await client.patch(f"/api/goals/{g['id']}", json={"target_date": "2026-01-01"},
                           headers=family.headers())
    assert r.status_code == 422


async def test_create_goal_tool_and_its_past_target_date_error(
    client: httpx.AsyncClient, family: Family
) -> None:
    out = await call_tool(client, family, "create_goal", title="Read 12 books",
                          timeframe="yearly", category="learning", target_value=12,
                          unit="books", description="one a month")
    assert out["ok"] is True, out
    assert out["result"]["target_date"] == "2026-12-31"
    assert out["result"]["description"] == "one a month"
    dated = await call_tool(client, family, "create_goal", title="Save 500",
                            target_value=500, unit="dollars", target_date="2026-06-30")
    assert dated["result"]["target_date"] == "2026-06-30"

    past = await call_tool(client, family, "create_goal", title="Too late",
                           target_date="2026-03-01")
    assert past["ok"] is False and past["error"] == "invalid_input"
    assert "past" in past["detail"]
    bad = await call_tool(client, family, "create_goal", title="x", timeframe="someday")
    assert bad["ok"] is False and bad["error"] == "invalid_arguments"


async def test_goal_progress_derived_from_the_metric_completes_at_target(
    client: httpx.AsyncClient, family: Family
) -> None:
    await make_goal(client, family, target_value=50, unit="km")
    step = await call_tool(client, family, "update_goal_progress", goal="run 50km", delta=20,
                           note="long Sunday run")
    assert step["ok"] is True, step
    assert step["result"]["goal"]["current_value"] == 20
    assert step["result"]["goal"]["progress"] == 40
    assert step["result"]["just_completed"] is False
    assert step["result"]["goal"]["description"] == "2026-03-04: long Sunday run"

    step = await call_tool(client, family, "update_goal_progress", goal="run", delta=15.5)
    assert step["result"]["goal"]["current_value"] == 35.5
    assert step["result"]["goal"]["progress"] == 71

    done = await call_tool(client, family, "update_goal_progress", goal="Run 50 km", value=50)
    assert done["result"]["goal"]["progress"] == 100
    assert done["result"]["goal"]["status"] == "completed"
    assert done["result"]["just_completed"] is True

    listed = await call_tool(client, family, "get_goals")
    assert listed["result"]["count"] == 0
    listed = await call_tool(client, family, "get_goals", status="completed")
    assert listed["result"]["count"] == 1
    listed = await call_tool(client, family, "get_goals", status="all")
    assert listed["result"]["goals"][0]["title"] == "Run 50 km"


async def test_update_goal_progress_errors_are_results(
    client: httpx.AsyncClient, family: Family
) -> None:
    g = await make_goal(client, family, target_value=50)
    await make_goal(client, family, title="Be more patient")
    cases = [
        ({"goal": "run"}, "invalid_input"),
        ({"goal": "run", "value": 3, "delta": 1}, "invalid_input"),
        ({"goal": "learn mandarin", "delta": 1}, "not_found"),
        ({"goal": "be more patient", "delta": 1}, "invalid_input"),
        ({"goal": "999999", "delta": 1}, "not_found"),
        ({"goal": "run", "delta": "lots"}, "invalid_arguments"),
    ]
    for args, error in cases:
        out = await call_tool(client, family, "update_goal_progress", **args)
        assert out["ok"] is False and out["error"] == error, (args, out)
    by_id = await call_tool(client, family, "update_goal_progress", goal=str(g["id"]), value=5)
    assert by_id["result"]["goal"]["progress"] == 10


async def test_a_child_cannot_touch_another_members_goal(
    client: httpx.AsyncClient, family: Family
) -> None:
    g = await make_goal(client, family)
    mine = await make_goal(client, family, who="child", title="Read 5 books", target_value=5)
    assert mine["member_id"] == family.child_id
    child = family.headers("child")
    answers = [
        await client.get(f"/api/goals/{g['id']}", headers=child),
        await client.patch(f"/api/goals/{g['id']}", json={"title": "x"}, headers=child),
        await client.delete(f"/api/goals/{g['id']}", headers=child),
        await client.get("/api/goals", params={"member_id": family.adult_id}, headers=child),
        await client.post("/api/goals", json={"title": "x", "member_id": family.adult_id},
                          headers=child),
    ]
    for r in answers:
        assert r.status_code == 403, (r.request.method, r.request.url, r.text)
    r = await client.get("/api/goals", headers=child)
    assert [x["id"] for x in r.json()] == [mine["id"]]
    out = await call_tool(client, family, "update_goal_progress", who="child", goal=str(g["id"]),
                          delta=1)
    assert out["ok"] is False and out["error"] == "forbidden"


async def test_another_household_gets_404_for_our_goals_and_members(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    g = await make_goal(client, family, target_value=50)
    them = other_family.headers()
    answers = [
        await client.get(f"/api/goals/{g['id']}", headers=them),
        await client.patch(f"/api/goals/{g['id']}", json={"current_value": 50}, headers=them),
        await client.delete(f"/api/goals/{g['id']}", headers=them),
        await client.get("/api/goals", params={"member_id": family.adult_id}, headers=them),
        await client.post("/api/goals", json={"title": "x", "member_id": family.adult_id},
                          headers=them),
        await client.post("/api/tools/get_goals", headers=them,
                          json={"member_id": family.adult_id, "arguments": {}}),
    ]
    for r in answers:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert r.json()["error"] == "not_found"
    out = await call_tool(client, other_family, "update_goal_progress", goal=str(g["id"]),
                          value=50)
    assert out["ok"] is False and out["error"] == "not_found"
    assert (await client.get("/api/goals", headers=them)).json() == []
    r = await client.get(f"/api/goals/{g['id']}", headers=family.headers())
    assert r.json()["current_value"] == 0
