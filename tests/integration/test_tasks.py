"""Tasks through the REST API and through the tools, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx

from luna.testing.clock import FrozenClock
from tests.conftest import Family


async def tool(client: httpx.AsyncClient, family: Family, name: str, who: str = "adult",
               **arguments: object) -> dict[str, object]:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers(who))
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_api_without_token_is_401_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/tasks")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


async def test_create_task_reads_due_in_member_timezone(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "Renew library card",
                                              "due_at": "2026-03-12T10:00:00-04:00"},
                          headers=family.headers())
    assert r.status_code == 201, r.text
    task = r.json()
    # New York is on EDT (-04:00) after 2026-03-08.
    assert task["due_at"] == "2026-03-12T10:00:00-04:00"
    assert task["overdue"] is False and task["status"] == "pending"


async def test_create_task_tool_parses_words_and_reads_back(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "create_task", title="Call the dentist",
                     due="tomorrow at 3pm", priority="high")
    assert res["ok"] is True, res
    task = res["result"]
    assert isinstance(task, dict)
    assert task["due_at"] == "2026-03-05T15:00:00-05:00"
    assert task["source_channel"] == "api"


async def test_create_task_with_a_past_due_is_an_error_result(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "create_task", title="Too late", due="2026-03-01T09:00")
    assert res["ok"] is False
    assert res["error"] == "invalid_input"
    assert "past" in str(res["detail"])


async def test_tool_with_bad_argument_type_is_an_error_result(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "create_task", title="x", priority="whenever")
    assert res["ok"] is False and res["error"] == "invalid_arguments"


async def test_complete_task_by_fuzzy_title(client: httpx.AsyncClient, family: Family) -> None:
    await tool(client, family, "create_task", title="Take out the trash")
    await tool(client, family, "create_task", title="Book flights to Lisbon")
    res = await tool(client, family, "complete_task", task="take out trash")
    assert res["ok"] is True, res
    assert isinstance(res["result"], dict) and res["result"]["status"] == "completed"
    listed = await tool(client, family, "get_tasks")
    assert isinstance(listed["result"], dict)
    assert [t["title"] for t in listed["result"]["tasks"]] == ["Book flights to Lisbon"]


async def test_complete_task_unknown_title_is_not_found(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "complete_task", task="walk the llama")
    assert res["ok"] is False and res["error"] == "not_found"


async def test_ambiguous_title_asks_which_one(client: httpx.AsyncClient, family: Family) -> None:
    await tool(client, family, "create_task", title="Call mom")
    await tool(client, family, "create_task", title="Call tom")
    res = await tool(client, family, "complete_task", task="call")
    assert res["ok"] is False and res["error"] == "ambiguous"
    assert set(res["candidates"]) == {"Call mom", "Call tom"}  # type: ignore[arg-type]


async def test_overdue_is_derived_from_the_clock(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    await tool(client, family, "create_task", title="Pay rent", due="today at 5pm")
    assert (await client.get("/api/tasks?overdue=true", headers=family.headers())).json() == []
    clock.advance(timedelta(hours=8))
    overdue = (await client.get("/api/tasks?overdue=true", headers=family.headers())).json()
    assert [t["title"] for t in overdue] == ["Pay rent"]
    res = await tool(client, family, "get_tasks", overdue_only=True)
    assert isinstance(res["result"], dict) and res["result"]["count"] == 1


async def test_reschedule_task_moves_due(client: httpx.AsyncClient, family: Family) -> None:
    await tool(client, family, "create_task", title="Vet appointment", due="friday at 9am")
    res = await tool(client, family, "reschedule_task", task="vet", due="next wednesday at 10am")
    assert res["ok"] is True, res
    assert isinstance(res["result"], dict)
    assert res["result"]["due_at"].startswith("2026-03-11T10:00:00")


async def test_patch_and_delete_task(client: httpx.AsyncClient, family: Family) -> None:
    r = await client.post("/api/tasks", json={"title": "Draft"}, headers=family.headers())
    tid = r.json()["id"]
    r = await client.patch(f"/api/tasks/{tid}", json={"title": "Final", "priority": "urgent"},
                           headers=family.headers())
    assert r.status_code == 200 and r.json()["priority"] == "urgent"
    r = await client.patch(f"/api/tasks/{tid}", json={"priority": "whenever"},
                           headers=family.headers())
    assert r.status_code == 422 and r.json()["error"] == "invalid_input"
    assert (await client.delete(f"/api/tasks/{tid}", headers=family.headers())).status_code == 204
    assert (await client.get(f"/api/tasks/{tid}", headers=family.headers())).status_code == 404


async def test_naive_due_at_in_api_is_a_clear_error(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "x", "due_at": "2026-03-12T10:00:00"},
                          headers=family.headers())
    assert r.status_code == 422
    assert "offset" in r.json()["detail"]


async def test_adult_acts_for_child_but_child_not_for_adult(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "Homework", "member_id": family.child_id},
                          headers=family.headers())
    assert r.status_code == 201
    r = await client.post("/api/tasks", json={"title": "Sneaky", "member_id": family.adult_id},
                          headers=family.headers("child"))
    assert r.status_code == 403
    own = (await client.get("/api/tasks", headers=family.headers("child"))).json()
    assert [t["title"] for t in own] == ["Homework"]
    r = await client.get(f"/api/tasks?member_id={family.adult_id}",
                         headers=family.headers("child"))
    assert r.status_code == 403


async def test_child_cannot_delete_or_reassign_others_tasks(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "Parent thing"}, headers=family.headers())
    tid = r.json()["id"]
    assert (await client.delete(f"/api/tasks/{tid}",
                                headers=family.headers("child"))).status_code == 403
    r = await client.post("/api/tasks", json={"title": "Mine"}, headers=family.headers("child"))
    own = r.json()["id"]
    r = await client.patch(f"/api/tasks/{own}", json={"member_id": family.adult_id},
                           headers=family.headers("child"))
    assert r.status_code == 403


async def test_other_household_task_ids_answer_404(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "Private"}, headers=family.headers())
    tid = r.json()["id"]
    h = other_family.headers()
    assert (await client.get(f"/api/tasks/{tid}", headers=h)).status_code == 404
    assert (await client.patch(f"/api/tasks/{tid}", json={"title": "x"},
                               headers=h)).status_code == 404
    assert (await client.delete(f"/api/tasks/{tid}", headers=h)).status_code == 404
    assert (await client.get(f"/api/tasks?member_id={family.adult_id}",
                             headers=h)).status_code == 404
    r = await client.post("/api/tools/create_task",
                          json={"member_id": family.adult_id, "arguments": {"title": "x"}},
                          headers=h)
    assert r.status_code == 404
    res = await tool(client, other_family, "complete_task", task=str(tid))
    assert res["ok"] is False and res["error"] == "not_found"
