"""Every registered tool, through POST /api/tools/{name}: a good call succeeds and a bad one
comes back as an error result (never a 500), on SQLite and PostgreSQL. A new tool fails this
test until it is given a case here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from luna.tools import catalog
from tests.conftest import Family

# Calls run in this order on one household, so later ones find what earlier ones made.
GOOD: dict[str, dict[str, Any]] = {
    "create_task": {"title": "Call the plumber", "due": "tomorrow at 9am"},
    "get_tasks": {},
    "reschedule_task": {"task": "plumber", "due": "friday at 10am"},
    "complete_task": {"task": "call the plumber"},
    "log_habit": {"habit": "Stretching", "value": 1},
    "get_habit_summary": {"period": "week", "habit": "stretching"},
    "update_daily_metrics": {"sleep_quality": 7, "mood": 8},
    "create_goal": {"title": "Read 10 books", "timeframe": "yearly", "category": "learning",
                    "target_value": 10, "unit": "books"},
    "update_goal_progress": {"goal": "read 10 books", "delta": 1},
    "get_goals": {},
    "update_user_profile": {"interests": ["pottery"]},
    "create_chore": {"title": "Water the plants", "schedule": "weekly", "weekdays": ["sat"],
                     "assignee": "Ben"},
    "get_chores": {"member": "Ben"},
    "get_overdue_chores": {},
    "reschedule_chore": {"chore": "water the plants", "day": "next sunday"},
    "delegate_chore": {"chore": "water the plants", "to": "Ava"},
    "complete_chore": {"chore": "water the plants", "completed_by": "Ava"},
    "suggest_chores": {},
    "add_event": {"title": "Swim lessons", "start": "monday at 5pm", "end": "monday at 6pm",
                  "members": ["Ava"]},
    "undo_last_action": {},  # takes the event back: the last undoable write
    "get_schedule": {"start": "today", "end": "next tuesday"},
    "send_family_message": {"to": ["Ben"], "body": "Dinner's at 7"},
    "suggest_next_action": {},
    "get_daily_briefing": {},
}

# Arguments that are wrong in a way the tool must explain: (arguments, expected error code).
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "create_task": ({"title": "Too late", "due": "2026-01-01T09:00"}, "invalid_input"),
    "get_tasks": ({"status": "someday"}, "invalid_arguments"),
    "reschedule_task": ({"task": "no such task here", "due": "tomorrow"}, "not_found"),
    "complete_task": ({"task": "no such task here"}, "not_found"),
    "log_habit": ({"habit": "Stretching", "day": "2030-01-01"}, "invalid_input"),
    "get_habit_summary": ({"habit": "juggling"}, "not_found"),
    "update_daily_metrics": ({"mood": 11}, "invalid_arguments"),
    "create_goal": ({"title": "Old", "timeframe": "monthly", "target_date": "2025-01-01"},
                    "invalid_input"),
    "update_goal_progress": ({"goal": "no such goal at all"}, "invalid_input"),
    "get_goals": ({"status": "forgotten"}, "invalid_arguments"),
    "update_user_profile": ({"timezone": "Mars/Olympus"}, "invalid_input"),
    "create_chore": ({"title": "Mow", "assignee": "Zebediah"}, "not_found"),
    "get_chores": ({"member": "Zebediah"}, "not_found"),
    "get_overdue_chores": ({"member": "Zebediah"}, "not_found"),
    "reschedule_chore": ({"chore": "water the plants", "day": "2026-01-01"}, "invalid_input"),
    "delegate_chore": ({"chore": "water the plants", "to": "Zebediah"}, "not_found"),
    "complete_chore": ({"chore": "polish the moon"}, "not_found"),
    "suggest_chores": ({"extra": 1}, "invalid_arguments"),
    "add_event": ({"title": "Past", "start": "2026-01-01T10:00"}, "invalid_input"),
    "get_schedule": ({"start": "the twelfth of never"}, "invalid_input"),
    "send_family_message": ({"to": ["Zebediah"], "body": "hi"}, "not_found"),
    "suggest_next_action": ({"extra": 1}, "invalid_arguments"),
    "get_daily_briefing": ({"day": "the twelfth of never"}, "invalid_input"),
    "undo_last_action": ({"extra": 1}, "invalid_arguments"),
}


async def _call(client: httpx.AsyncClient, family: Family, name: str,
                arguments: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers())
    assert r.status_code == 200, (name, r.status_code, r.text)
    body: dict[str, Any] = r.json()
    return body


def test_every_registered_tool_has_a_good_and_a_bad_case() -> None:
    names = set(catalog.load().names())
    assert names - set(GOOD) == set(), "tools without a good case"
    assert names - set(BAD) == set(), "tools without a bad case"


async def test_every_tool_succeeds_through_the_api(
    client: httpx.AsyncClient, family: Family
) -> None:
    failures = []
    for name, arguments in GOOD.items():
        body = await _call(client, family, name, arguments)
        if not body["ok"]:
            failures.append((name, body))
    assert not failures, failures


@pytest.mark.parametrize("name", sorted(BAD))
async def test_every_tool_explains_bad_arguments(
    client: httpx.AsyncClient, family: Family, name: str
) -> None:
    await _call(client, family, "create_chore", GOOD["create_chore"])
    await _call(client, family, "log_habit", GOOD["log_habit"])
    arguments, code = BAD[name]
    body = await _call(client, family, name, arguments)
    assert body["ok"] is False and body["error"] == code, body
    assert body["detail"]
