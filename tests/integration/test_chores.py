"""Family chores over HTTP and through the tools, on both databases.

The frozen clock starts on Wednesday 2026-03-04, 10:30 in New York (the household's zone).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from luna.errors import NotFound
from luna.services.access import Actor
from luna.services.container import Services
from luna.testing.clock import FrozenClock
from tests.conftest import Family

WEEKLY_TUE_SAT = {"kind": "weekly", "weekdays": ["tue", "sat"]}


async def _create(
    client: httpx.AsyncClient, family: Family, who: str = "adult", **body: Any
) -> dict[str, Any]:
    body.setdefault("title", "Take out the trash")
    body.setdefault("schedule", WEEKLY_TUE_SAT)
    r = await client.post("/api/chores", json=body, headers=family.headers(who))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def _complete(
    client: httpx.AsyncClient, family: Family, chore_id: int, who: str = "adult", **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/api/chores/{chore_id}/complete", json=body or None,
                          headers=family.headers(who))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def _tool(
    client: httpx.AsyncClient, family: Family, name: str, who: str = "adult", **arguments: Any
) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers(who))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_weekly_tue_sat_chore_is_first_due_on_the_coming_saturday(
    client: httpx.AsyncClient, family: Family
) -> None:
    chore = await _create(client, family, assignee_id=family.adult_id, points=2)
    assert chore["next_due"] == "2026-03-07"
    assert chore["schedule"]["weekdays"] == ["tue", "sat"]
    assert chore["schedule"]["date"] == "2026-03-04"
    assert chore["schedule"]["rrule"] == "FREQ=WEEKLY;BYDAY=TU,SA"
    assert chore["assignee_name"] == "Maya"
    assert chore["overdue"] is False


async def test_a_recurring_chore_started_in_the_past_is_not_born_overdue(
    client: httpx.AsyncClient, family: Family
) -> None:
    chore = await _create(client, family, schedule={
        "kind": "every_n_days", "interval_days": 3, "date": "2026-02-01"})
    # Feb 1 + 3k: ..., Mar 3, Mar 6; the calendar anchor is kept.
    assert chore["next_due"] == "2026-03-06"
    r = await client.post("/api/chores", headers=family.headers(), json={
        "title": "Late", "schedule": {"kind": "once", "date": "2026-03-01"}})
    assert r.status_code == 422


async def test_completing_advances_the_schedule_and_awards_points(
    client: httpx.AsyncClient, family: Family
) -> None:
    chore = await _create(client, family, assignee_id=family.adult_id, points=3)
    done = await _complete(client, family, chore["id"])
    assert done["due_date"] == "2026-03-07"
    assert done["points_awarded"] == 3
    assert done["completed_by"] == family.adult_id
    assert done["next_due"] == "2026-03-10"
    assert done["next_assignee_id"] == family.adult_id

    detail = (await client.get(f"/api/chores/{chore['id']}", headers=family.headers())).json()
    assert detail["next_due"] == "2026-03-10"
    assert [(c["id"], c["points_awarded"], c["undone"]) for c in detail["completions"]] == [
        (done["id"], 3, False)]

    board = (await client.get("/api/chores/points", headers=family.headers())).json()
    assert board[0] == {"member_id": family.adult_id, "name": "Maya", "points": 3,
                        "completions": 1}
    assert {b["member_id"]: b["points"] for b in board}[family.child_id] == 0


async def test_a_rotation_of_three_visits_everyone_once_per_cycle_and_wraps(
    client: httpx.AsyncClient, family: Family
) -> None:
    order = [family.adult_id, family.child_id, family.partner_id]
    chore = await _create(client, family, assignment_mode="rotation", rotation_member_ids=order)
    assert chore["assignee_id"] == family.adult_id  # the first in the order starts
    holders, dues = [], []
    for _ in range(4):
        done = await _complete(client, family, chore["id"])
        holders.append(done["next_assignee_id"])
        dues.append(done["next_due"])
    assert holders == [family.child_id, family.partner_id, family.adult_id, family.child_id]
    assert dues == ["2026-03-10", "2026-03-14", "2026-03-17", "2026-03-21"]

    with_start = await _create(client, family, title="Dishes", assignment_mode="rotation",
                               rotation_member_ids=order, assignee_id=family.partner_id)
    assert with_start["assignee_id"] == family.partner_id
    r = await client.post("/api/chores", headers=family.headers(), json={
        "title": "Nobody", "assignment_mode": "rotation", "schedule": WEEKLY_TUE_SAT})
    assert r.status_code == 422


async def test_undo_restores_next_due_and_assignee_exactly(
    client: httpx.AsyncClient, family: Family
) -> None:
    order = [family.adult_id, family.partner_id]
    chore = await _create(client, family, assignment_mode="rotation", rotation_member_ids=order,
                          points=2)
    first = await _complete(client, family, chore["id"])
    second = await _complete(client, family, chore["id"], completed_by=family.partner_id)
    assert second["next_assignee_id"] == family.adult_id

    r = await client.post(f"/api/chores/completions/{first['id']}/undo", headers=family.headers())
    assert r.status_code == 409  # only the latest run can be undone

    r = await client.post(f"/api/chores/completions/{second['id']}/undo",
                          headers=family.headers())
    assert r.status_code == 200, r.text
    assert (r.json()["next_due"], r.json()["assignee_id"]) == (
        first["next_due"], first["next_assignee_id"])
    r = await client.post(f"/api/chores/completions/{second['id']}/undo",
                          headers=family.headers())
    assert r.status_code == 409

    r = await client.post(f"/api/chores/completions/{first['id']}/undo", headers=family.headers())
    assert (r.json()["next_due"], r.json()["assignee_id"]) == (
        chore["next_due"], chore["assignee_id"])
    board = (await client.get("/api/chores/points", headers=family.headers())).json()
    assert all(b["points"] == 0 for b in board)
    detail = (await client.get(f"/api/chores/{chore['id']}", headers=family.headers())).json()
    assert [c["undone"] for c in detail["completions"]] == [True, True]


async def test_skip_advances_schedule_and_rotation_without_points(
    client: httpx.AsyncClient, family: Family
) -> None:
    order = [family.adult_id, family.partner_id]
    chore = await _create(client, family, assignment_mode="rotation", rotation_member_ids=order,
                          points=5)
    r = await client.post(f"/api/chores/{chore['id']}/skip", headers=family.headers())
    assert r.status_code == 200, r.text
    skipped = r.json()
    assert skipped["skipped"] is True
    assert skipped["points_awarded"] == 0
    assert skipped["next_due"] == "2026-03-10"
    assert skipped["next_assignee_id"] == family.partner_id
    board = (await client.get("/api/chores/points", headers=family.headers())).json()
    assert all(b["points"] == 0 and b["completions"] == 0 for b in board)


async def test_from_completion_chore_done_late_counts_from_the_completion_day(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    fridge = await _create(client, family, title="Wipe the fridge", schedule={
        "kind": "every_n_days", "interval_days": 3, "from_completion": True})
    calendar = await _create(client, family, title="Water plants", schedule={
        "kind": "every_n_days", "interval_days": 3})
    assert fridge["next_due"] == calendar["next_due"] == "2026-03-04"
    clock.advance(timedelta(days=5))  # Monday 2026-03-09
    assert (await _complete(client, family, fridge["id"]))["next_due"] == "2026-03-12"
    # The calendar-anchored one keeps its rhythm: Mar 4 + 3k, the first after today.
    assert (await _complete(client, family, calendar["id"]))["next_due"] == "2026-03-10"


async def test_overdue_is_derived_from_the_clock_in_household_time(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    chore = await _create(client, family, title="Feed the cat", due_time="18:00",
                          schedule={"kind": "once"})
    assert chore["next_due"] == "2026-03-04"
    assert (await client.get("/api/chores/overdue", headers=family.headers())).json() == []
    clock.advance(timedelta(hours=8))  # 18:30 in New York, still Wednesday
    overdue = (await client.get("/api/chores/overdue", headers=family.headers())).json()
    assert [c["id"] for c in overdue] == [chore["id"]]
    assert overdue[0]["overdue"] is True
    today = (await client.get("/api/chores?date=2026-03-04", headers=family.headers())).json()
    assert today[0]["overdue"] is True

    await _complete(client, family, chore["id"])
    assert (await client.get("/api/chores/overdue", headers=family.headers())).json() == []
    r = await client.post(f"/api/chores/{chore['id']}/complete", headers=family.headers())
    assert r.status_code == 409  # a finished one-off


async def test_listing_by_day_projects_recurring_chores_and_today_carries_overdue(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    chore = await _create(client, family)
    h = family.headers()
    for day, expected in [("2026-03-07", [chore["id"]]), ("2026-03-14", [chore["id"]]),
                          ("2026-03-05", [])]:
        r = await client.get(f"/api/chores?date={day}", headers=h)
        assert [c["id"] for c in r.json()] == expected, day
    clock.advance(timedelta(days=4))  # Sunday: Saturday's run was missed
    r = await client.get("/api/chores?date=2026-03-08", headers=h)
    assert [(c["id"], c["overdue"]) for c in r.json()] == [(chore["id"], True)]


async def test_family_member_alias_filters_like_member_id(
    client: httpx.AsyncClient, family: Family
) -> None:
    mine = await _create(client, family, title="Mow", assignee_id=family.partner_id)
    await _create(client, family, title="Sweep", assignee_id=family.adult_id)
    h = family.headers()
    by_id = (await client.get(f"/api/chores?member_id={family.partner_id}", headers=h)).json()
    by_alias = (await client.get(f"/api/chores?familyMember={family.partner_id}",
                                 headers=h)).json()
    assert [c["id"] for c in by_id] == [c["id"] for c in by_alias] == [mine["id"]]
    r = await client.get(f"/api/chores/overdue?familyMember={family.partner_id}", headers=h)
    assert r.status_code == 200
    assert len((await client.get("/api/chores", headers=h)).json()) == 2
    r = await client.get(
        f"/api/chores?member_id={family.adult_id}&familyMember={family.partner_id}", headers=h)
    assert r.status_code == 422


async def test_completed_by_alias_credits_the_named_member(
    client: httpx.AsyncClient, family: Family
) -> None:
    chore = await _create(client, family, assignee_id=family.partner_id)
    done = await _complete(client, family, chore["id"], completedBy=family.partner_id)
    assert done["completed_by"] == family.partner_id


async def test_a_child_sees_and_completes_only_their_own_chores(
    client: httpx.AsyncClient, family: Family
) -> None:
    await _create(client, family, title="Vacuum", assignee_id=family.adult_id)
    own = await _create(client, family, title="Feed the fish", assignee_id=family.child_id)

    listed = (await client.get("/api/chores", headers=family.headers("child"))).json()
    assert [c["id"] for c in listed] == [own["id"]]
    r = await client.get(f"/api/chores?member_id={family.adult_id}",
                         headers=family.headers("child"))
    assert r.status_code == 403

    r = await client.post("/api/chores", headers=family.headers("child"), json={
        "title": "Dad's job", "assignee_id": family.adult_id, "schedule": WEEKLY_TUE_SAT})
    assert r.status_code == 403
    made = await _create(client, family, "child", title="Tidy my room")
    assert made["assignee_id"] == family.child_id
    fair = await _create(client, family, "child", title="Water", assignment_mode="fairest")
    assert (fair["assignee_id"], fair["rotation_member_ids"]) == (
        family.child_id, [family.child_id])

    vacuum = (await client.get("/api/chores", headers=family.headers())).json()[0]
    assert vacuum["title"] == "Vacuum"
    r = await client.post(f"/api/chores/{vacuum['id']}/complete", headers=family.headers("child"))
    assert r.status_code == 403
    r = await client.post(f"/api/chores/{own['id']}/complete", headers=family.headers("child"),
                          json={"completed_by": family.partner_id})
    assert r.status_code == 403
    done = await _complete(client, family, own["id"], "child")
    assert done["completed_by"] == family.child_id
    r = await client.post(f"/api/chores/completions/{done['id']}/undo",
                          headers=family.headers("child"))
    assert r.status_code == 200
    adults = await _complete(client, family, vacuum["id"])
    r = await client.post(f"/api/chores/completions/{adults['id']}/undo",
                          headers=family.headers("child"))
    assert r.status_code == 403

    for method, path, body in [
        ("PATCH", f"/api/chores/{own['id']}", {"points": 9}),
        ("DELETE", f"/api/chores/{own['id']}", None),
        ("POST", f"/api/chores/{own['id']}/delegate", {"to_member_id": family.adult_id}),
        ("POST", f"/api/chores/{own['id']}/reschedule", {"date": "2026-03-20"}),
        ("GET", f"/api/chores/{vacuum['id']}", None),
    ]:
        r = await client.request(method, path, json=body, headers=family.headers("child"))
        assert r.status_code == 403, (method, path, r.text)


async def test_patch_reschedule_delegate_and_soft_delete(
    client: httpx.AsyncClient, family: Family
) -> None:
    chore = await _create(client, family, assignee_id=family.adult_id)
    h = family.headers()
    r = await client.patch(f"/api/chores/{chore['id']}", headers=h, json={
        "title": "Bins out", "points": 4, "due_time": "7:05",
        "schedule": {"kind": "weekly", "weekdays": ["thu"]}})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert (patched["title"], patched["points"], patched["due_time"], patched["next_due"]) == (
        "Bins out", 4, "07:05", "2026-03-05")
    r = await client.patch(f"/api/chores/{chore['id']}", headers=h,
                           json={"assignment_mode": "rotation",
                                 "rotation_member_ids": [family.partner_id, family.child_id]})
    assert r.json()["assignee_id"] == family.partner_id
    for bad in [{"due_time": "25:00"}, {"points": None}, {"schedule": None},
                {"schedule": {"kind": "weekly"}}, {"assignee_id": 99999}]:
        r = await client.patch(f"/api/chores/{chore['id']}", headers=h, json=bad)
        assert r.status_code == (404 if "assignee_id" in bad else 422), (bad, r.text)

    r = await client.post(f"/api/chores/{chore['id']}/reschedule", headers=h,
                          json={"date": "2026-03-03"})
    assert r.status_code == 422
    r = await client.post(f"/api/chores/{chore['id']}/reschedule", headers=h,
                          json={"date": "2026-03-09"})
    assert r.json()["next_due"] == "2026-03-09"
    r = await client.post(f"/api/chores/{chore['id']}/delegate", headers=h,
                          json={"to_member_id": family.child_id})
    assert r.json()["assignee_id"] == family.child_id

    assert (await client.delete(f"/api/chores/{chore['id']}", headers=h)).status_code == 204
    assert (await client.get("/api/chores", headers=h)).json() == []
    detail = (await client.get(f"/api/chores/{chore['id']}", headers=h)).json()
    assert detail["active"] is False
    r = await client.post(f"/api/chores/{chore['id']}/complete", headers=h)
    assert r.status_code == 409


async def test_chore_tools_create_list_complete_and_reschedule(
    client: httpx.AsyncClient, family: Family
) -> None:
    made = await _tool(client, family, "create_chore", title="Empty the dishwasher",
                       rotation=["Benny", "me"], weekdays=["mon", "thu"], due_time="6:30pm",
                       points=2)
    assert made["ok"], made
    chore = made["result"]
    assert chore["rotation_member_ids"] == [family.partner_id, family.adult_id]
    assert (chore["assignee_id"], chore["due_time"], chore["next_due"]) == (
        family.partner_id, "18:30", "2026-03-05")

    fridge = await _tool(client, family, "create_chore", title="Clean the fridge",
                         schedule="every_n_days", every_days=30, from_completion=True,
                         start="saturday", assignee="Ava")
    assert fridge["ok"], fridge
    assert (fridge["result"]["next_due"], fridge["result"]["assignee_id"]) == (
        "2026-03-07", family.child_id)

    listed = await _tool(client, family, "get_chores", member="Ben")
    assert [c["id"] for c in listed["result"]["chores"]] == [chore["id"]]
    on_sat = await _tool(client, family, "get_chores", day="2026-03-07")
    assert [c["title"] for c in on_sat["result"]["chores"]] == ["Clean the fridge"]
    kid = await _tool(client, family, "get_chores", "child")
    assert [c["title"] for c in kid["result"]["chores"]] == ["Clean the fridge"]

    done = await _tool(client, family, "complete_chore", chore="dishwasher",
                       completed_by="Ben")
    assert done["ok"], done
    assert (done["result"]["completed_by"], done["result"]["next_assignee_id"]) == (
        family.partner_id, family.adult_id)
    kid_done = await _tool(client, family, "complete_chore", "child", chore="fridge")
    assert kid_done["ok"] and kid_done["result"]["completed_by"] == family.child_id

    missing = await _tool(client, family, "complete_chore", chore="polish the spaceship")
    assert (missing["ok"], missing["error"]) == (False, "not_found")

    past = await _tool(client, family, "reschedule_chore", chore="dishwasher", day="yesterday")
    assert (past["ok"], past["error"]) == (False, "invalid_input")
    moved = await _tool(client, family, "reschedule_chore", chore="dishwasher", day="sunday")
    assert moved["ok"] and moved["result"]["next_due"] == "2026-03-08"
    bad_time = await _tool(client, family, "create_chore", title="x", due_time="whenever")
    assert bad_time["ok"] is False


async def test_overdue_delegate_and_suggest_through_tools(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    await _create(client, family, title="Laundry", assignee_id=family.adult_id, points=5)
    trash = await _create(client, family, title="Trash", points=1)  # nobody's yet
    dishes = await _create(client, family, title="Dishes", assignment_mode="rotation",
                           rotation_member_ids=[family.adult_id, family.partner_id])
    await _complete(client, family, (await _tool(
        client, family, "create_chore", title="Big clean", schedule="once", points=8,
        assignee="me"))["result"]["id"])

    suggested = await _tool(client, family, "suggest_chores")
    assert suggested["ok"], suggested
    by_chore = {s["chore_id"]: s for s in suggested["result"]["suggestions"]}
    assert set(by_chore) == {trash["id"], dishes["id"]}
    # Maya did 8 points this month and holds Laundry: the others are suggested.
    assert by_chore[trash["id"]]["suggested_member_id"] != family.adult_id
    assert by_chore[dishes["id"]]["suggested_member_id"] == family.partner_id
    assert "Ben" in by_chore[dishes["id"]]["reason"]
    kid = await _tool(client, family, "suggest_chores", "child")
    assert (kid["ok"], kid["error"]) == (False, "forbidden")

    delegated = await _tool(client, family, "delegate_chore", chore="laundry", to="Benny")
    assert delegated["ok"] and delegated["result"]["assignee_id"] == family.partner_id
    kid_try = await _tool(client, family, "delegate_chore", "child", chore="1", to="me")
    assert (kid_try["ok"], kid_try["error"]) == (False, "forbidden")

    clock.advance(timedelta(days=4))  # Sunday: Saturday's chores were missed
    overdue = await _tool(client, family, "get_overdue_chores", member="Ben")
    assert [c["title"] for c in overdue["result"]["chores"]] == ["Laundry"]
    everyone = await _tool(client, family, "get_overdue_chores")
    assert everyone["result"]["count"] == 3


async def test_members_of_another_household_are_not_found_by_name(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await client.post("/api/members", json={"name": "Zed"}, headers=other_family.headers())
    assert r.status_code == 201
    zed = r.json()["id"]
    await _create(client, family, title="Trash", assignee_id=family.adult_id)
    for name, args in [("delegate_chore", {"chore": "trash", "to": "Zed"}),
                       ("create_chore", {"title": "x", "assignee": "Zed"}),
                       ("get_chores", {"member": "Zed"}),
                       ("complete_chore", {"chore": "trash", "completed_by": "Zed"})]:
        out = await _tool(client, family, name, **args)
        assert (out["ok"], out["error"]) == (False, "not_found"), name
    r = await client.post("/api/chores", headers=family.headers(), json={
        "title": "x", "assignee_id": zed, "schedule": WEEKLY_TUE_SAT})
    assert r.status_code == 404


async def test_another_household_gets_404_for_every_chore_endpoint(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    chore = await _create(client, family, assignee_id=family.adult_id)
    done = await _complete(client, family, chore["id"])
    cid, h = chore["id"], other_family.headers()
    for method, path, body in [
        ("GET", f"/api/chores/{cid}", None),
        ("PATCH", f"/api/chores/{cid}", {"points": 9}),
        ("DELETE", f"/api/chores/{cid}", None),
        ("POST", f"/api/chores/{cid}/complete", None),
        ("POST", f"/api/chores/{cid}/skip", None),
        ("POST", f"/api/chores/{cid}/reschedule", {"date": "2026-03-20"}),
        ("POST", f"/api/chores/{cid}/delegate", {"to_member_id": other_family.adult_id}),
        ("POST", f"/api/chores/completions/{done['id']}/undo", None),
        ("GET", f"/api/chores?member_id={family.adult_id}", None),
        ("GET", f"/api/chores/overdue?familyMember={family.adult_id}", None),
    ]:
        r = await client.request(method, path, json=body, headers=h)
        assert r.status_code == 404, (method, path, r.text)
    # Their own board and lists stay empty of A's chores.
    assert (await client.get("/api/chores", headers=h)).json() == []
    board = (await client.get("/api/chores/points", headers=h)).json()
    assert {b["member_id"] for b in board}.isdisjoint({family.adult_id})
    # Household A's chore is untouched.
    detail = (await client.get(f"/api/chores/{cid}", headers=family.headers())).json()
    assert (detail["points"], detail["active"], len(detail["completions"])) == (1, True, 1)


async def test_chore_names_are_the_chores_the_list_shows_and_a_child_sees_only_theirs(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    await _create(client, family, title="Take out the trash", assignee_id=family.child_id)
    await _create(client, family, title="Water the plants", assignee_id=family.adult_id)
    await _create(client, family, title="Sweep the porch")
    gone = await _create(client, family, title="Wash the car")
    r = await client.patch(f"/api/chores/{gone['id']}", json={"active": False},
                           headers=family.headers())
    assert r.status_code == 200, r.text
    for actor in (_actor(family, "adult"), _actor(family, "child")):
        listed = await services.chores.list(actor)
        names = await services.chores.names(actor)
        assert sorted((c.id, c.title, c.assignee_name) for c in listed) == sorted(names)
    assert [n.title for n in await services.chores.names(_actor(family, "child"))] == [
        "Take out the trash"]
    adult = _actor(family, "adult")
    plants = await services.chores.find_id(adult, "water plants")
    assert plants == (await services.chores.find(adult, "water plants")).id
    with pytest.raises(NotFound):  # a child's words match only the child's own chores
        await services.chores.find_id(_actor(family, "child"), "water the plants")


def _actor(family: Family, who: str) -> Actor:
    member_id = family.child_id if who == "child" else family.adult_id
    return Actor(household_id=family.household_id, member_id=member_id, role=who)


async def test_a_week_read_at_once_matches_each_day_read_alone(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    # A week's schedule reads the chores once; each day must still be exactly what a
    # one-day read says, for an adult's view of someone else and for a child's own view.
    await _create(client, family, title="Dishes", assignee_id=family.child_id,
                  schedule={"kind": "every_n_days", "interval_days": 1})
    await _create(client, family, title="Trash", assignee_id=family.child_id)
    await _create(client, family, title="Mow", assignee_id=family.adult_id,
                  schedule={"kind": "every_n_days", "interval_days": 3, "date": "2026-03-02"})
    week = [services.clock.now().date() + timedelta(days=i) for i in range(-1, 7)]
    for actor, member in ((_actor(family, "adult"), family.child_id),
                          (_actor(family, "adult"), None),
                          (_actor(family, "child"), family.child_id)):
        at_once = await services.chores.on_days(actor, week, member_id=member)
        assert list(at_once) == week
        for day in week:
            alone = await services.chores.list(actor, day=day, member_id=member)
            assert at_once[day] == alone, day
        assert any(at_once.values())
