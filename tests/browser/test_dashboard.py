"""The dashboard in a real browser (Chromium via Playwright) against a live Luna."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Live

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def login(page: Page, live: Live, token: str | None = None, next_path: str = "/overview") -> None:
    page.goto(live.login_url(token or live.adult_token, next_path))
    expect(page).to_have_url(f"{live.url}{next_path}")


def test_screenshots_of_overview_chores_and_a_habit_show_the_demo_family(
    browser: Browser, live: Live, screenshots: Path
) -> None:
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        ctx = browser.new_context(viewport=viewport, device_scale_factor=1)
        page = ctx.new_page()
        login(page, live)
        for slug, path, expected in (
            ("overview", "/overview", "Maya"),
            ("chores", "/chores", "Take out the trash"),
            ("habit", f"/habits/{live.habit_id}", "Journaling"),
        ):
            page.goto(f"{live.url}{path}")
            expect(page.locator("#main")).to_contain_text(expected)
            shot = screenshots / f"{slug}-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        ctx.close()


def test_the_login_link_starts_an_httponly_session_and_logout_ends_it(
    page: Page, live: Live
) -> None:
    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/login")
    login(page, live)
    expect(page.locator("header")).to_contain_text("Maya")
    expect(page.locator("#main")).to_contain_text("Pay the water bill")
    assert live.adult_token not in page.url
    cookie = next(c for c in page.context.cookies() if c["name"] == "luna_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["value"] != live.adult_token  # a session token of its own, revocable alone
    assert page.evaluate("document.cookie") == ""
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live.url}/login")
    page.goto(f"{live.url}/tasks")
    expect(page).to_have_url(f"{live.url}/login?next=%2Ftasks")


def test_completing_a_chore_on_the_board_moves_points_and_streak(page: Page, live: Live) -> None:
    login(page, live, next_path="/chores")
    row = page.locator(f'tr[data-member="{live.joe_id}"]')
    expect(row.locator(".points")).to_have_attribute("data-points", "0")
    expect(row.locator(".streak")).to_have_attribute("data-streak", "0")
    chip = row.locator(f'.chip[data-chore="{live.chore_id}"][data-state="due"]')
    chip.get_by_role("button", name="Done").click()
    expect(page.locator(".notice")).to_contain_text(f"{live.chore_title} done — +3 points")
    expect(row.locator(".points")).to_have_attribute("data-points", "3")
    expect(row.locator(".streak")).to_have_attribute("data-streak", "1")
    expect(row.locator(f'.chip[data-chore="{live.chore_id}"][data-state="done"]')).to_be_visible()
    # Undo puts everything back.
    page.locator(".notice").get_by_role("button", name="Undo").click()
    expect(row.locator(".points")).to_have_attribute("data-points", "0")
    expect(row.locator(".streak")).to_have_attribute("data-streak", "0")
    expect(row.locator(f'.chip[data-chore="{live.chore_id}"][data-state="due"]')).to_be_visible()


def test_a_child_sees_only_their_own_row_of_the_board(page: Page, live: Live) -> None:
    login(page, live, token=live.child_token, next_path="/chores")
    rows = page.locator("table.board tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-member", str(live.child_id))
    expect(page.locator("#main")).not_to_contain_text("Water the plants")


def test_reading_a_call_transcript(page: Page, live: Live) -> None:
    login(page, live, next_path="/interactions?channel=voice")
    page.locator(f'[data-interaction="{live.call_id}"] a').click()
    expect(page).to_have_url(f"{live.url}/interactions/{live.call_id}")
    lines = page.locator("ol.transcript li")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("pick up the dry cleaning?")
    expect(lines.nth(1)).to_contain_text("Luna")
    expect(lines.nth(1)).to_contain_text("tomorrow at five")


def test_charts_render_as_svg_with_data_points(page: Page, live: Live) -> None:
    login(page, live, next_path="/checkins")
    chart = page.locator("svg.line-chart")
    expect(chart).to_be_visible()
    for series in ("sleep_quality", "mood", "energy"):
        assert chart.locator(f'g[data-series="{series}"] circle.point').count() >= 5
    assert chart.locator("polyline").count() == 3
    page.goto(f"{live.url}/habits/{live.habit_id}")
    heat = page.locator("svg.heatmap")
    expect(heat).to_be_visible()
    assert heat.locator("rect.cell").count() == 7 * 16
    assert heat.locator("rect.cell.level-2, rect.cell.level-3, rect.cell.level-4").count() >= 3
    page.goto(f"{live.url}/goals")
    progress = page.locator("progress").first
    assert int(progress.get_attribute("value") or 0) > 0


def test_another_households_data_never_shows(page: Page, live: Live) -> None:
    login(page, live)
    for path in ("/overview", "/chores", "/tasks", "/habits", "/goals", "/checkins",
                 "/calendar", "/messages", "/interactions", "/usage"):
        page.goto(f"{live.url}{path}")
        text = page.locator("body").inner_text()
        assert "Okafor" not in text and live.other_member not in text, path
    page.context.clear_cookies()
    login(page, live, token=live.other_token)
    expect(page.locator("#main")).to_contain_text(live.other_task)
    for path in (f"/interactions/{live.call_id}", f"/habits/{live.habit_id}",
                 f"/chores/{live.chore_id}/edit"):
        response = page.goto(f"{live.url}{path}")
        assert response is not None and response.status == 404, path
        expect(page.locator("h1")).to_have_text("Not found")
    page.goto(f"{live.url}/chores")
    expect(page.locator("#main")).not_to_contain_text("Take out the trash")
    expect(page.locator("#main")).to_contain_text("Okafor mow the lawn")


def test_adding_a_task_in_chat_shows_it_with_an_undoable_chip(page: Page, live: Live) -> None:
    login(page, live, next_path="/tasks")
    page.get_by_label("Message Luna").fill("add a task to buy birthday candles")
    page.get_by_role("button", name="Send").click()
    chip = page.locator('.action-chip[data-tool="create_task"]')
    expect(chip).to_contain_text("birthday candles", ignore_case=True)
    tasks = page.locator(f'ul.task-list[data-member="{live.adult_id}"]')
    expect(tasks).to_contain_text("birthday candles", ignore_case=True)
    chip.get_by_role("button", name="Undo").click()
    expect(chip).to_have_class("action-chip undone")
    expect(tasks).not_to_contain_text("birthday candles", ignore_case=True)
