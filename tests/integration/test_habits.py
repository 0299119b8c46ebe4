"""Habits through the HTTP API and the assistant's tools: local days, streaks, access rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from luna.services.access import Actor
from luna.services.container import Services
from luna.testing.clock import FrozenClock

if TYPE_CHECKING:
    from conftest import Family

DAY = timedelta(days=1)


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


async def make_habit(
    client: httpx.AsyncClient, fam: Family, who: str = "adult", **fields: Any
) -> dict[str, Any]:
    r = await client.post("/api/habits", json={"name": "Meditate", **fields},
                          headers=fam.headers(who))
    assert r.status_code == 201, r.text
    habit: dict[str, Any] = r.json()
    return habit


async def log(
    client: httpx.AsyncClient, fam: Family, habit_id: int, who: str = "adult", **body: Any
) -> httpx.Response:
    return await client.post(f"/api/habits/{habit_id}/logs", json=body, headers=fam.headers(who))


async def habit(client: httpx.AsyncClient, fam: Family, habit_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/habits/{habit_id}", headers=fam.headers())
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_habit_crud_through_the_api(client: httpx.AsyncClient, family: Family) -> None:
    h = await make_habit(client, family, category="mindfulness", reminder_time="07:30")
    assert h["member_id"] == family.adult_id
    assert h["frequency"] == "daily" and h["active"] is True
    assert h["streak_current"] == 0 and h["strength"] == 0.0 and h["logged_today"] is False
    assert h["due_today"] is True and h["reminder_time"] == "07:30"

    r = await client.patch(f"/api/habits/{h['id']}", headers=family.headers(),
                           json={"name": "Morning meditation", "frequency": "weekdays",
                                 "weekdays": ["fri", "mon"], "target": 10, "unit": "minutes"})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["name"] == "Morning meditation"
    assert patched["weekdays"] == ["mon", "fri"]
    # Wednesday is not one of its days.
    assert patched["due_today"] is False

    r = await client.get("/api/habits", headers=family.headers())
    assert [x["id"] for x in r.json()] == [h["id"]]
    assert (await client.delete(f"/api/habits/{h['id']}", headers=family.headers())).status_code \
        == 204
    r = await client.get(f"/api/habits/{h['id']}", headers=family.headers())
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_duplicate_active_habit_name_is_a_conflict_ignoring_case(
    client: httpx.AsyncClient, family: Family
) -> None:
    await make_habit(client, family, name="Drink water")
    r = await client.post("/api/habits", json={"name": "drink WATER"}, headers=family.headers())
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    # Another member may have a habit of the same name.
    r = await client.post("/api/habits", json={"name": "Drink water",
                                               "member_id": family.partner_id},
                          headers=family.headers())
    assert r.status_code == 201


async def test_a_schedule_missing_its_days_or_quota_is_rejected(
    client: httpx.AsyncClient, family: Family
) -> None:
    for body in ({"name": "Run", "frequency": "times_per_week"},
                 {"name": "Run", "frequency": "weekdays"},
                 {"name": "Run", "weekdays": ["funday"]}):
        r = await client.post("/api/habits", json=body, headers=family.headers())
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] == "invalid_input"


async def test_log_habit_creates_a_missing_habit_then_reuses_it(
    client: httpx.AsyncClient, family: Family
) -> None:
    first = await call_tool(client, family, "log_habit", habit="Stretch", notes="felt good")
    assert first["ok"] is True, first
    res = first["result"]
    assert res["created"] is True
    assert res["habit"]["name"] == "Stretch" and res["habit"]["frequency"] == "daily"
    assert res["log"]["date"] == "2026-03-04" and res["log"]["notes"] == "felt good"
    assert res["habit"]["streak_current"] == 1 and res["habit"]["logged_today"] is True
    assert res["habit"]["strength"] > 0

    again = await call_tool(client, family, "log_habit", habit="stretching")
    assert again["ok"] is True, again
    assert again["result"]["created"] is False
    assert again["result"]["habit"]["id"] == res["habit"]["id"]
    r = await client.get("/api/habits", headers=family.headers())
    assert len(r.json()) == 1


async def test_a_log_at_1_30_local_counts_for_the_previous_day(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    h = await make_habit(client, family)
    clock.set(datetime(2026, 3, 5, 6, 30, tzinfo=UTC))  # Thursday 01:30 in New York
    r = await log(client, family, h["id"])
    assert r.status_code == 201, r.text
    assert r.json()["date"] == "2026-03-04"
    assert r.json()["logged_at"].startswith("2026-03-05T01:30")
    # At 03:00 the member's day turns over.
    clock.set(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    assert (await log(client, family, h["id"])).json()["date"] == "2026-03-05"


async def test_the_day_start_preference_moves_the_boundary(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    r = await client.patch(f"/api/members/{family.adult_id}", headers=family.headers(),
                           json={"preferences": {"day_start": "00:00"}})
    assert r.status_code == 200, r.text
    h = await make_habit(client, family)
    clock.set(datetime(2026, 3, 5, 6, 30, tzinfo=UTC))
    assert (await log(client, family, h["id"])).json()["date"] == "2026-03-05"


async def test_backdating_with_yesterday_through_the_tool(
    client: httpx.AsyncClient, family: Family
) -> None:
    out = await call_tool(client, family, "log_habit", habit="Read", value=20, day="yesterday")
    assert out["ok"] is True, out
    assert out["result"]["log"]["date"] == "2026-03-03"
    assert out["result"]["log"]["value"] == 20
    # Yesterday is done and today is still open: the streak stands at one.
    assert out["result"]["habit"]["streak_current"] == 1
    assert out["result"]["habit"]["logged_today"] is False
    today = await call_tool(client, family, "log_habit", habit="Read")
    assert today["result"]["habit"]["streak_current"] == 2


async def test_yesterday_said_after_midnight_means_the_day_before_the_members_day(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 3, 5, 6, 30, tzinfo=UTC))  # 01:30 Thursday, still Wednesday's day
    out = await call_tool(client, family, "log_habit", habit="Read", day="yesterday")
    assert out["result"]["log"]["date"] == "2026-03-03"


async def test_backdating_is_limited_to_seven_days_and_never_the_future(
    client: httpx.AsyncClient, family: Family
) -> None:
    h = await make_habit(client, family)
    for day in ("2026-03-05", "2026-02-24"):
        r = await log(client, family, h["id"], date=day)
        assert r.status_code == 422 and r.json()["error"] == "invalid_input", r.text
    r = await log(client, family, h["id"], date="2026-02-25")
    assert r.status_code == 201 and r.json()["date"] == "2026-02-25"
    out = await call_tool(client, family, "log_habit", habit="Meditate", day="2026-03-10")
    assert out["ok"] is False and out["error"] == "invalid_input"


async def test_the_streak_grows_over_consecutive_days_and_breaks_on_a_missed_one(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    h = await make_habit(client, family)
    strengths = []
    for n in range(1, 5):
        assert (await log(client, family, h["id"])).status_code == 201
        now = await habit(client, family, h["id"])
        assert now["streak_current"] == n and now["streak_longest"] == n
        assert now["streak_unit"] == "days"
        strengths.append(now["strength"])
        clock.advance(DAY)
    assert strengths == sorted(strengths) and len(set(strengths)) == 4
    # The next day is still open: the streak holds.
    assert (await habit(client, family, h["id"]))["streak_current"] == 4
    clock.advance(DAY)  # a whole day passed without a log
    after = await habit(client, family, h["id"])
    assert after["streak_current"] == 0 and after["streak_longest"] == 4
    # Four of the five finished days since it was created; the open day is not a miss.
    assert after["completion_rate_7d"] == 0.8
    # Strength forgives gradually rather than resetting.
    assert 0 < after["strength"] < strengths[-1]


async def test_a_skipped_day_keeps_the_streak(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    h = await make_habit(client, family)
    await log(client, family, h["id"])
    clock.advance(DAY)
    r = await log(client, family, h["id"], skipped=True, notes="sick")
    assert r.status_code == 201 and r.json()["skipped"] is True and r.json()["value"] == 0
    skipped_day = await habit(client, family, h["id"])
    assert skipped_day["due_today"] is False
    clock.advance(DAY)
    out = await call_tool(client, family, "log_habit", habit="meditate")
    assert out["result"]["habit"]["streak_current"] == 2
    clock.advance(DAY)
    skip = await call_tool(client, family, "log_habit", habit="meditate", skipped=True)
    assert skip["ok"] is True and skip["result"]["log"]["skipped"] is True
    clock.advance(DAY)
    assert (await habit(client, family, h["id"]))["streak_current"] == 2


async def test_a_measured_habit_counts_only_days_that_meet_the_target(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    h = await make_habit(client, family, name="Water", unit="glasses", target=8)
    await log(client, family, h["id"], value=3)
    assert (await habit(client, family, h["id"]))["streak_current"] == 0
    await log(client, family, h["id"], value=5)
    assert (await habit(client, family, h["id"]))["streak_current"] == 1
    clock.advance(DAY)
    await log(client, family, h["id"], value=2)
    clock.advance(DAY)
    now = await habit(client, family, h["id"])
    assert now["streak_current"] == 0 and now["streak_longest"] == 1


async def test_a_times_per_week_habit_counts_weeks(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    h = await make_habit(client, family, name="Gym", frequency="times_per_week", times_per_week=2)
    await log(client, family, h["id"], date="2026-03-02")
    await log(client, family, h["id"])
    now = await habit(client, family, h["id"])
    assert now["streak_unit"] == "weeks" and now["streak_current"] == 1
    assert now["due_today"] is False


async def test_pausing_keeps_the_streak_through_a_vacation(
    client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    h = await make_habit(client, family)
    await log(client, family, h["id"])
    clock.advance(DAY)
    r = await client.patch(f"/api/habits/{h['id']}", json={"paused": True},
                           headers=family.headers())
    assert r.status_code == 200 and r.json()["paused"] is True and r.json()["due_today"] is False
    clock.advance(3 * DAY)
    r = await client.patch(f"/api/habits/{h['id']}", json={"paused": False},
                           headers=family.headers())
    assert r.json()["paused"] is False and r.json()["due_today"] is True
    await log(client, family, h["id"])
    assert (await habit(client, family, h["id"]))["streak_current"] == 2
    r = await client.patch(f"/api/habits/{h['id']}", json={"pause_until": "2026-03-01"},
                           headers=family.headers())
    assert r.status_code == 422


async def test_logs_are_listed_by_local_date_range(
    client: httpx.AsyncClient, family: Family
) -> None:
    h = await make_habit(client, family)
    for day in ("2026-03-01", "2026-03-02", "2026-03-04"):
        await log(client, family, h["id"], date=day)
    r = await client.get(f"/api/habits/{h['id']}/logs", params={"from": "2026-03-02",
                                                                "to": "2026-03-03"},
                         headers=family.headers())
    assert r.status_code == 200, r.text
    assert [x["date"] for x in r.json()] == ["2026-03-02"]
    r = await client.get(f"/api/habits/{h['id']}/logs", headers=family.headers())
    assert [x["date"] for x in r.json()] == ["2026-03-01", "2026-03-02", "2026-03-04"]


async def test_habit_summary_per_period_and_for_one_habit(
    client: httpx.AsyncClient, family: Family
) -> None:
    water = await make_habit(client, family, name="Water", unit="glasses", target=2)
    await make_habit(client, family, name="Meditate")
    for day, glasses in (("2026-03-02", 2), ("2026-03-03", 3), ("2026-03-04", 2)):
        await log(client, family, water["id"], date=day, value=glasses)

    out = await call_tool(client, family, "get_habit_summary")
    assert out["ok"] is True, out
    res = out["result"]
    assert res["period"] == "week" and res["start"] == "2026-02-26" and res["end"] == "2026-03-04"
    by_name = {h["name"]: h for h in res["habits"]}
    assert set(by_name) == {"Water", "Meditate"}
    w = by_name["Water"]
    assert w["logs"] == 3 and w["total_value"] == 7 and w["streak_current"] == 3
    assert w["completion_rate"] == 1.0 and w["strength"] > 0
    assert by_name["Meditate"]["logs"] == 0

    one = await call_tool(client, family, "get_habit_summary", period="month", habit="water")
    assert [h["name"] for h in one["result"]["habits"]] == ["Water"]
    assert one["result"]["start"] == "2026-02-03"


async def test_habit_summary_for_an_unknown_habit_is_an_error_result(
    client: httpx.AsyncClient, family: Family
) -> None:
    await make_habit(client, family)
    out = await call_tool(client, family, "get_habit_summary", habit="juggling")
    assert out["ok"] is False and out["error"] == "not_found"
    bad = await call_tool(client, family, "get_habit_summary", period="decade")
    assert bad["ok"] is False and bad["error"] == "invalid_arguments"


async def test_adults_see_the_household_and_a_child_only_itself(
    client: httpx.AsyncClient, family: Family
) -> None:
    await make_habit(client, family)
    kid = await make_habit(client, family, who="child", name="Practice piano")
    assert kid["member_id"] == family.child_id
    r = await client.get("/api/habits", headers=family.headers())
    assert {h["member_id"] for h in r.json()} == {family.adult_id, family.child_id}
    r = await client.get("/api/habits", headers=family.headers("child"))
    assert [h["id"] for h in r.json()] == [kid["id"]]
    # An adult may log for the child.
    assert (await log(client, family, kid["id"])).status_code == 201


async def test_a_child_cannot_touch_another_members_habit(
    client: httpx.AsyncClient, family: Family
) -> None:
    h = await make_habit(client, family)
    child = family.headers("child")
    hid = h["id"]
    answers = [
        await client.get(f"/api/habits/{hid}", headers=child),
        await client.patch(f"/api/habits/{hid}", json={"name": "x"}, headers=child),
        await client.delete(f"/api/habits/{hid}", headers=child),
        await client.get(f"/api/habits/{hid}/logs", headers=child),
        await client.post(f"/api/habits/{hid}/logs", json={}, headers=child),
        await client.get("/api/habits", params={"member_id": family.adult_id}, headers=child),
        await client.post("/api/habits", json={"name": "x", "member_id": family.adult_id},
                          headers=child),
        await client.post("/api/tools/log_habit", headers=child,
                          json={"member_id": family.adult_id, "arguments": {"habit": "x"}}),
    ]
    for r in answers:
        assert r.status_code == 403, (r.request.method, r.request.url, r.text)
        assert r.json()["error"] == "forbidden"
    assert (await habit(client, family, hid))["name"] == "Meditate"


async def test_another_household_gets_404_for_our_habits_and_members(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    h = await make_habit(client, family)
    them = other_family.headers()
    hid = h["id"]
    answers = [
        await client.get(f"/api/habits/{hid}", headers=them),
        await client.patch(f"/api/habits/{hid}", json={"name": "x"}, headers=them),
        await client.delete(f"/api/habits/{hid}", headers=them),
        await client.get(f"/api/habits/{hid}/logs", headers=them),
        await client.post(f"/api/habits/{hid}/logs", json={}, headers=them),
        await client.get("/api/habits", params={"member_id": family.adult_id}, headers=them),
        await client.post("/api/habits", json={"name": "x", "member_id": family.child_id},
                          headers=them),
        await client.post("/api/tools/log_habit", headers=them,
                          json={"member_id": family.adult_id, "arguments": {"habit": "x"}}),
        await client.post("/api/tools/get_habit_summary", headers=them,
                          json={"member_id": family.adult_id, "arguments": {}}),
    ]
    for r in answers:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert r.json()["error"] == "not_found"
    # Nor does their list show ours, or their tool match our habit by name.
    assert (await client.get("/api/habits", headers=them)).json() == []
    out = await call_tool(client, other_family, "log_habit", habit=str(hid))
    assert out["ok"] is False and out["error"] == "not_found"
    assert (await habit(client, family, hid))["streak_current"] == 0


async def test_still_open_is_the_list_filtered_to_what_is_left_today(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    # The briefing asks only for what is left; it must be exactly list()'s due, unlogged,
    # unpaused habits, with the same figures.
    due = await make_habit(client, family, name="Stretch")
    done = await make_habit(client, family, name="Read")
    assert (await log(client, family, done["id"])).status_code == 201
    paused = await make_habit(client, family, name="Run")
    r = await client.patch(f"/api/habits/{paused['id']}", json={"paused": True},
                           headers=family.headers())
    assert r.status_code == 200
    today = services.clock.now().astimezone(ZoneInfo("America/New_York")).strftime("%a").lower()
    other_day = next(d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d != today)
    await make_habit(client, family, name="Swim", frequency="weekdays", weekdays=[other_day])
    actor = Actor(household_id=family.household_id, member_id=family.adult_id, role="adult")
    everything = await services.habits.list(actor, member_id=family.adult_id)
    assert len(everything) == 4
    expected = [h for h in everything if h.due_today and not h.logged_today and not h.paused]
    assert await services.habits.still_open(actor, family.adult_id) == expected
    assert [h.id for h in expected] == [due["id"]]
