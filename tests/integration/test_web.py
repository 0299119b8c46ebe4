"""The dashboard over HTTP: login and sessions, CSRF, every page and form, household walls."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from luna.channels.web import charts, views
from luna.services.access import Actor
from luna.services.chores import ScheduleIn
from luna.services.container import Services
from tests.conftest import ADMIN_TOKEN, Family

SAME_ORIGIN = {"Origin": "http://testserver"}
PAGES = ("/overview", "/chores", "/tasks", "/habits", "/goals", "/checkins", "/calendar",
         "/messages", "/interactions", "/usage")


async def login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    client.cookies.clear()
    r = await client.get("/login", params={"token": token})
    assert r.status_code == 303, r.text
    return r


def adult(family: Family) -> Actor:
    return Actor(household_id=family.household_id, member_id=family.adult_id, role="adult")


async def test_the_login_link_sets_an_httponly_lax_session_cookie(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await login(client, family.adult_token)
    assert r.headers["location"] == "/overview"
    cookie = r.headers["set-cookie"]
    assert "luna_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert family.adult_token not in cookie  # the session has a token of its own
    assert r.headers["referrer-policy"] == "no-referrer"
    page = await client.get("/overview")
    assert page.status_code == 200 and "Maya" in page.text
    # The same cookie authenticates the JSON API the chat panel uses.
    assert (await client.get("/api/tasks")).status_code == 200


async def test_login_refuses_bad_tokens_and_the_admin_token(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.get("/login", params={"token": "luna_nope"})
    assert r.status_code == 401 and "not valid" in r.text
    r = await client.get("/login", params={"token": ADMIN_TOKEN})
    assert r.status_code == 403 and "member" in r.text
    assert "luna_session" not in client.cookies


async def test_the_login_form_and_next_never_redirect_off_site(
    client: httpx.AsyncClient, family: Family
) -> None:
    form = await client.get("/login", params={"next": "/habits"})
    assert form.status_code == 200 and 'name="token"' in form.text
    r = await client.post("/login", data={"token": family.adult_token, "next": "/habits"},
                          headers=SAME_ORIGIN)
    assert r.headers["location"] == "/habits"
    r = await client.post("/login", data={"token": family.adult_token},
                          headers={"Origin": "https://evil.example"})
    assert r.status_code == 403  # no logging a browser in from another site
    for evil in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        r = await client.get("/login", params={"token": family.adult_token, "next": evil})
        assert r.headers["location"] == "/overview"


async def test_pages_send_a_logged_out_browser_to_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).headers["location"] == "/login"
    r = await client.get("/chores")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fchores"
    r = await client.get("/tasks", headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["hx-redirect"] == "/login?next=%2Ftasks"


async def test_logout_revokes_exactly_this_session(
    client: httpx.AsyncClient, family: Family
) -> None:
    await login(client, family.adult_token)
    session = client.cookies["luna_session"]
    r = await client.post("/logout", headers=SAME_ORIGIN)
    assert r.headers["location"] == "/login"
    client.cookies.clear()
    r = await client.get("/api/tasks", headers={"Authorization": f"Bearer {session}"})
    assert r.status_code == 401
    r = await client.get("/api/tasks", headers=family.headers("adult"))
    assert r.status_code == 200  # the login link's token still works


async def test_every_page_renders_with_security_headers(
    client: httpx.AsyncClient, family: Family
) -> None:
    await login(client, family.adult_token)
    assert (await client.get("/")).headers["location"] == "/overview"
    for path in PAGES:
        r = await client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "https://" not in r.text.split("</head>")[0]  # nothing from a CDN
    assert 'data-mode="browser"' in r.text  # no OpenAI key: the browser's own speech
    static = await client.get("/static/htmx.min.js")
    assert static.status_code == 200 and "htmx" in static.text


async def test_cookie_writes_from_another_site_are_refused(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    task = await services.tasks.create(adult(family), title="Keep me")
    await login(client, family.adult_token)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Referer": "https://evil.example/page"}, {}):
        r = await client.post(f"/tasks/{task.id}/complete", headers=headers)
        assert r.status_code == 403, headers
        r = await client.post("/api/tools/complete_task", headers=headers,
                              json={"arguments": {"task": "Keep me"}})
        assert r.status_code == 403, headers
    assert (await services.tasks.get(adult(family), task.id)).status == "pending"
    r = await client.post(f"/tasks/{task.id}/complete",
                          headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    assert (await services.tasks.get(adult(family), task.id)).status == "completed"


async def test_bearer_requests_carry_no_ambient_authority_and_pass(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/tasks", json={"title": "From a script"},
                          headers={**family.headers(), "Origin": "https://elsewhere.example"})
    assert r.status_code == 201


async def test_chore_board_complete_skip_and_undo(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    chore = await services.chores.create(
        adult(family), title="Feed the fish", points=2, assignee_id=family.partner_id,
        schedule=ScheduleIn(kind="every_n_days", interval_days=1),
    )
    await login(client, family.adult_token)
    page = await client.get("/chores")
    assert "Feed the fish" in page.text and 'data-state="due"' in page.text
    r = await client.post(f"/chores/{chore.id}/complete", headers=SAME_ORIGIN,
                          data={"completed_by": str(family.partner_id)})
    assert r.status_code == 303 and r.headers["location"].startswith("/chores?done=")
    board = await client.get(r.headers["location"])
    assert "Feed the fish done — +2 points" in board.text
    points = {p.member_id: p.points for p in await services.chores.points(adult(family))}
    assert points[family.partner_id] == 2
    completion = int(r.headers["location"].split("=")[1])
    r = await client.post(f"/chores/completions/{completion}/undo", headers=SAME_ORIGIN)
    assert r.status_code == 303
    points = {p.member_id: p.points for p in await services.chores.points(adult(family))}
    assert points[family.partner_id] == 0
    r = await client.post(f"/chores/{chore.id}/skip", headers=SAME_ORIGIN)
    assert r.status_code == 303
    assert "skipped" in (await client.get(r.headers["location"])).text


async def test_chores_are_added_and_edited_through_forms(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    await login(client, family.adult_token)
    r = await client.post("/chores", headers=SAME_ORIGIN, data={
        "title": "Sweep the porch", "points": "4", "kind": "weekly", "weekdays": ["mon", "thu"],
        "mode": "rotation", "rotation": [str(family.adult_id), str(family.partner_id)],
    })
    assert r.status_code == 303
    chore = await services.chores.find(adult(family), "Sweep the porch")
    assert chore.assignment_mode == "rotation" and chore.points == 4
    assert chore.schedule.weekdays == ["mon", "thu"]
    edit = await client.get(f"/chores/{chore.id}/edit")
    assert edit.status_code == 200 and "Sweep the porch" in edit.text
    r = await client.post(f"/chores/{chore.id}", headers=SAME_ORIGIN, data={
        "title": "Sweep the porch well", "points": "5", "kind": "every_n_days",
        "interval": "3", "mode": "fixed", "assignee": str(family.partner_id),
    })
    assert r.status_code == 303
    updated = await services.chores.get(adult(family), chore.id)
    assert updated.title == "Sweep the porch well" and updated.assignee_id == family.partner_id
    assert updated.schedule.interval_days == 3
    r = await client.post("/chores", headers=SAME_ORIGIN,
                          data={"title": "No days", "kind": "weekly"})
    assert r.status_code == 422 and "pick at least one weekday" in r.text
    r = await client.post(f"/chores/{chore.id}/archive", headers=SAME_ORIGIN)
    assert r.status_code == 303
    assert not (await services.chores.get(adult(family), chore.id)).active


async def test_a_child_sees_and_completes_only_their_own_chores(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    mine = await services.chores.create(
        adult(family), title="Make the bed", assignee_id=family.child_id,
        schedule=ScheduleIn(kind="every_n_days", interval_days=1))
    theirs = await services.chores.create(
        adult(family), title="Mow the lawn", assignee_id=family.partner_id,
        schedule=ScheduleIn(kind="every_n_days", interval_days=1))
    await login(client, family.child_token)
    page = await client.get("/chores")
    assert "Make the bed" in page.text and "Mow the lawn" not in page.text
    assert page.text.count("<tr data-member=") == 1
    r = await client.post(f"/chores/{theirs.id}/complete", headers=SAME_ORIGIN)
    assert r.status_code == 403 and "own chores" in r.text
    r = await client.post(f"/chores/{mine.id}/complete", headers=SAME_ORIGIN,
                          data={"completed_by": str(family.adult_id)})
    assert r.status_code == 303  # the credit goes to the child whatever the form says
    child = Actor(household_id=family.household_id, member_id=family.child_id, role="child")
    detail = await services.chores.get(child, mine.id)
    assert detail.completions[0].completed_by == family.child_id


async def test_tasks_habits_goals_checkins_events_and_messages_forms(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    me = adult(family)
    await login(client, family.adult_token)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    r = await client.post("/tasks", headers=SAME_ORIGIN, data={
        "title": "Buy stamps", "member": str(family.partner_id), "due_date": tomorrow,
        "due_time": "09:30", "priority": "high"})
    assert r.status_code == 303
    task = await services.tasks.find_open(me, family.partner_id, "Buy stamps")
    assert task.priority == "high" and task.due_at is not None
    assert task.due_at.strftime("%H:%M") == "09:30"
    assert "Buy stamps" in (await client.get("/tasks")).text
    await client.post(f"/tasks/{task.id}/complete", headers=SAME_ORIGIN)
    assert (await services.tasks.get(me, task.id)).status == "completed"
    await client.post(f"/tasks/{task.id}/reopen", headers=SAME_ORIGIN)
    await client.post(f"/tasks/{task.id}/delete", headers=SAME_ORIGIN)
    assert not await services.tasks.list(me, member_id=family.partner_id)

    r = await client.post("/habits", headers=SAME_ORIGIN, data={"name": "Stretch"})
    assert r.status_code == 303
    habit = await services.habits.find(me, family.adult_id, "Stretch")
    r = await client.post(f"/habits/{habit.id}/log", headers=SAME_ORIGIN, data={"back": "habit"})
    assert r.headers["location"] == f"/habits/{habit.id}"
    assert (await services.habits.get(me, habit.id)).logged_today
    page = await client.get(f"/habits/{habit.id}")
    assert page.status_code == 200 and 'class="cell level-2"' in page.text

    await client.post("/goals", headers=SAME_ORIGIN, data={
        "title": "Walk 20 km", "target_value": "20", "unit": "km"})
    goal = await services.goals.find(me, family.adult_id, "Walk 20 km")
    await client.post(f"/goals/{goal.id}/progress", headers=SAME_ORIGIN, data={"delta": "5"})
    assert (await services.goals.get(me, goal.id)).progress == 25
    assert 'value="25"' in (await client.get("/goals")).text

    r = await client.post("/checkins", headers=SAME_ORIGIN, data={
        "member": str(family.adult_id), "sleep_quality": "7", "mood": "8", "energy": "6"})
    assert r.status_code == 303
    page = await client.get("/checkins")
    assert page.text.count('class="point"') == 3
    r = await client.post("/checkins", headers=SAME_ORIGIN, data={"mood": "11"})
    assert r.status_code == 422

    r = await client.post("/calendar", headers=SAME_ORIGIN, data={
        "title": "Piano recital", "day": tomorrow, "at": "18:00", "minutes": "90"})
    assert r.status_code == 303
    assert "Piano recital" in (await client.get(r.headers["location"])).text

    r = await client.post("/messages", headers=SAME_ORIGIN, data={
        "to": [str(family.child_id)], "body": "Dinner at six", "channel": "sms"})
    assert r.status_code == 303
    page = await client.get("/messages")
    assert "Dinner at six" in page.text and "outbox" in page.text


async def test_interactions_show_call_transcripts_and_usage_costs(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    call = await services.interactions.record(
        family.household_id, family.adult_id, "voice", "inbound", None, None,
        transcript=[{"role": "user", "text": "What's on tomorrow?"},
                    {"role": "assistant", "text": "Swim lessons at five."}],
        usage=[("realtime_audio_output", 1200, "tokens", 0.024)],
    )
    await login(client, family.adult_token)
    listing = await client.get("/interactions", params={"channel": "voice"})
    assert f'data-interaction="{call.id}"' in listing.text
    page = await client.get(f"/interactions/{call.id}")
    assert "What&#39;s on tomorrow?" in page.text and "Swim lessons at five." in page.text
    usage = await client.get("/usage")
    assert "realtime audio output" in usage.text and "$0.02" in usage.text


async def test_another_households_things_are_not_found_in_the_dashboard(
    client: httpx.AsyncClient, family: Family, other_family: Family, services: Services
) -> None:
    theirs = Actor(household_id=other_family.household_id, member_id=other_family.adult_id,
                   role="adult")
    chore = await services.chores.create(theirs, title="Okafor chore",
                                         schedule=ScheduleIn(kind="every_n_days", interval_days=1))
    habit = await services.habits.create(theirs, name="Okafor habit")
    task = await services.tasks.create(theirs, title="Okafor task")
    goal = await services.goals.create(theirs, title="Okafor goal", target_value=3)
    call = await services.interactions.record(other_family.household_id, other_family.adult_id,
                                              "voice", "inbound", "hi", "hello")
    await login(client, family.adult_token)
    for path in PAGES:
        assert "Okafor" not in (await client.get(path)).text, path
    html = {"Accept": "text/html"}
    for path in (f"/chores/{chore.id}/edit", f"/habits/{habit.id}", f"/interactions/{call.id}"):
        r = await client.get(path, headers=html)
        assert r.status_code == 404 and "Not found" in r.text, path
    for path, data in ((f"/chores/{chore.id}/complete", {}), (f"/tasks/{task.id}/complete", {}),
                       (f"/habits/{habit.id}/log", {}), (f"/goals/{goal.id}/progress",
                                                         {"delta": "1"})):
        r = await client.post(path, headers=SAME_ORIGIN, data=data)
        assert r.status_code == 404, path
    r = await client.get(f"/checkins?member={other_family.adult_id}")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("days", "today", "expected"),
    [
        ([], date(2026, 3, 4), 0),
        ([date(2026, 3, 4)], date(2026, 3, 4), 1),
        ([date(2026, 3, 2), date(2026, 3, 3)], date(2026, 3, 4), 2),  # today is not over yet
        ([date(2026, 3, 1), date(2026, 3, 3), date(2026, 3, 4)], date(2026, 3, 4), 2),
        ([date(2026, 3, 2)], date(2026, 3, 4), 0),
    ],
)
def test_day_streak_counts_days_in_a_row(days: list[date], today: date, expected: int) -> None:
    assert views.day_streak(days, today) == expected


def test_week_of_starts_on_monday() -> None:
    week = views.week_of(date(2026, 3, 4))
    assert week[0] == date(2026, 3, 2) and week[-1] == date(2026, 3, 8)


def test_heatmap_has_a_square_per_day_and_levels_by_amount() -> None:
    start, end = date(2026, 2, 2), date(2026, 3, 1)
    h = charts.heatmap(start, end, {date(2026, 2, 3): 1, date(2026, 2, 4): 4},
                       {date(2026, 2, 5)})
    assert len(h.cells) == 28
    levels = {c.day: c.level for c in h.cells}
    assert levels[date(2026, 2, 3)] == 1 and levels[date(2026, 2, 4)] == 4
    assert levels[date(2026, 2, 5)] == -1 and levels[date(2026, 2, 6)] == 0
    same = charts.heatmap(start, end, {date(2026, 2, 3): 1, date(2026, 2, 4): 1})
    assert {c.level for c in same.cells if c.day in (date(2026, 2, 3), date(2026, 2, 4))} == {2}


def test_line_chart_places_points_and_keeps_gaps() -> None:
    start, end = date(2026, 3, 1), date(2026, 3, 30)
    chart = charts.line_chart(start, end, [
        ("mood", "Mood", {date(2026, 3, 1): 0, date(2026, 3, 30): 10, date(2026, 3, 5): None}),
    ])
    (series,) = chart.series
    assert [p.value for p in series.points] == [0, 10]
    first, last = series.points
    assert first.x == chart.left and last.x == chart.left + chart.plot_width
    assert first.y == chart.top + chart.plot_height and last.y == chart.top
    assert not chart.empty and charts.line_chart(start, end, [("m", "M", {})]).empty
