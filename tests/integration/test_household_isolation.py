"""Walk every API route that takes an id with household B's token against household A's ids:
every one must answer 404, and A's data must be unchanged afterwards."""

from __future__ import annotations

import re

import httpx

from luna.channels.app import create_app
from luna.services.container import Services
from tests.conftest import Family

# Routes whose path parameter is not an id of household data.
NOT_HOUSEHOLD_IDS = {"/api/tools/{name}"}
# Bodies that pass validation, so that the answer is about the id and not about the body.
BODIES: dict[str, dict[str, object]] = {
    "/api/checkins/{member_id}/{day}": {"mood": 5},
    "/api/chores/{chore_id}/delegate": {"to_member_id": 1},
    "/api/chores/{chore_id}/reschedule": {"date": "2026-03-10"},
}


async def _household_a_ids(client: httpx.AsyncClient, family: Family,
                           services: Services) -> dict[str, int | str]:
    h = family.headers()
    ids: dict[str, int | str] = {"members": family.adult_id, "date": "2026-03-04"}
    r = await client.post("/api/tasks", json={"title": "A's task"}, headers=h)
    ids["tasks"] = r.json()["id"]
    r = await client.post("/api/habits", json={"name": "A's habit"}, headers=h)
    assert r.status_code == 201, r.text
    ids["habits"] = r.json()["id"]
    r = await client.post(f"/api/habits/{ids['habits']}/logs", json={}, headers=h)
    assert r.status_code == 201, r.text
    ids["logs"] = r.json()["id"]
    r = await client.post("/api/goals", json={"title": "A's goal", "timeframe": "monthly"},
                          headers=h)
    assert r.status_code == 201, r.text
    ids["goals"] = r.json()["id"]
    r = await client.post("/api/chores", json={
        "title": "A's chore", "assignee_id": family.adult_id,
        "schedule": {"kind": "weekly", "weekdays": ["wed"]}}, headers=h)
    assert r.status_code == 201, r.text
    ids["chores"] = r.json()["id"]
    r = await client.post(f"/api/chores/{ids['chores']}/complete", json={}, headers=h)
    assert r.status_code in (200, 201), r.text
    ids["completions"] = r.json()["id"]
    r = await client.post("/api/events", json={
        "title": "A's event", "start": "2026-03-06T17:00:00-05:00"}, headers=h)
    assert r.status_code == 201, r.text
    ids["events"] = r.json()["id"]
    r = await client.post("/api/feeds", json={}, headers=h)
    assert r.status_code == 201, r.text
    ids["feeds"] = r.json()["id"]
    interaction = await services.interactions.record(
        household_id=family.household_id, member_id=family.adult_id, channel="sms",
        direction="inbound", user_message="hi", assistant_response="hello",
    )
    ids["interactions"] = interaction.id
    return ids


def _fill(path: str, ids: dict[str, int | str]) -> str:
    segments = path.strip("/").split("/")
    out = []
    for i, seg in enumerate(segments):
        m = re.fullmatch(r"\{(\w+)\}", seg)
        if not m:
            out.append(seg)
            continue
        name = m.group(1)
        key = "date" if name in ("date", "day") else segments[i - 1]
        if key not in ids:
            key = name.removesuffix("_id") + "s"
        assert key in ids, f"no id of household A for {path} ({name})"
        out.append(str(ids[key]))
    return "/" + "/".join(out)


async def test_every_id_route_hides_other_households(
    client: httpx.AsyncClient, services: Services, settings: object, family: Family,
    other_family: Family,
) -> None:
    ids = await _household_a_ids(client, family, services)
    before = (await client.get("/api/tasks", headers=family.headers())).json()
    # The OpenAPI document lists every route, so a new endpoint is walked without editing this.
    paths = create_app(settings, services=services).openapi()["paths"]  # type: ignore[arg-type]
    walked: list[str] = []
    leaks: list[str] = []
    for path, operations in sorted(paths.items()):
        if "{" not in path or path in NOT_HOUSEHOLD_IDS or not path.startswith("/api/"):
            continue
        url = _fill(path, ids)
        for method in sorted(m.upper() for m in operations):
            body = BODIES.get(path, {})
            kwargs = {"json": body} if method in {"POST", "PUT", "PATCH"} else {}
            r = await client.request(method, url, headers=other_family.headers(), **kwargs)
            walked.append(f"{method} {path}")
            if r.status_code != 404:
                leaks.append(f"{method} {url} -> {r.status_code} {r.text[:120]}")
    assert not leaks, "\n".join(leaks)
    assert len(walked) >= 20, walked
    after = (await client.get("/api/tasks", headers=family.headers())).json()
    assert before == after


async def test_list_endpoints_never_show_other_households(
    client: httpx.AsyncClient, services: Services, family: Family, other_family: Family
) -> None:
    await _household_a_ids(client, family, services)
    h = other_family.headers()
    for path in ("/api/tasks", "/api/habits", "/api/goals", "/api/chores", "/api/events",
                 "/api/interactions", "/api/messages", "/api/checkins"):
        r = await client.get(path, headers=h)
        assert r.status_code == 200, (path, r.text)
        assert "A's" not in r.text, path
    r = await client.get("/api/members", headers=h)
    assert {m["name"] for m in r.json()} == {"Maya", "Ava", "Ben"}
    assert all(m["household_id"] == other_family.household_id for m in r.json())
