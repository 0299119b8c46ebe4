"""The guard spots replies that claim an action, and only those."""

from __future__ import annotations

import pytest

from luna.brain.guard import claims_action, unbacked_claim
from luna.brain.types import Action

CLAIMS = [
    "I've added it!",
    "I have scheduled your dentist appointment for Thursday.",
    "I just logged your meditation — nice streak!",
    "I went ahead and created the task.",
    "Done! Anything else?",
    "All set.",
    "You're all set for tomorrow.",
    "It's been added to your list.",
    "Your task has been moved to Friday.",
    "That's on your calendar now… I mean, it's on your calendar.",
    "Added “Buy milk” to your list.",
    "I sent the message to Ben.",
    "Consider it done.",
    "I marked it as complete.",
    "I've reminded Ava.",
]

NOT_CLAIMS = [
    "Want me to add it to your list?",
    "Should I schedule that for Thursday?",
    "I couldn't add it — the time is in the past.",
    "I haven't added anything yet. What should the task be called?",
    "Nothing was added, because I couldn't find that task.",
    "Have I added the right one?",
    "How did the run go?",
    "Let me know when you're done with the dishes",
    "You completed 3 tasks yesterday, great work!",
    "Here are your open tasks: Buy milk, Call mom.",
]


@pytest.mark.parametrize("reply", CLAIMS)
def test_past_tense_action_replies_are_claims(reply: str) -> None:
    assert claims_action(reply)


@pytest.mark.parametrize("reply", NOT_CLAIMS)
def test_questions_negations_and_reports_are_not_claims(reply: str) -> None:
    assert not claims_action(reply)


def test_a_claim_is_backed_only_by_a_successful_write() -> None:
    write = Action("create_task", {"title": "milk"}, ok=True, result={"id": 1})
    failed = Action("create_task", {"title": "milk"}, ok=False, error="invalid_input")
    read = Action("get_tasks", {}, ok=True, result={"count": 0})
    writes = {"create_task"}
    assert unbacked_claim("I've added it!", [], writes)
    assert unbacked_claim("I've added it!", [failed, read], writes)
    assert not unbacked_claim("I've added it!", [write], writes)
    assert not unbacked_claim("Want me to add it?", [], writes)
    assert not unbacked_claim("I've added it!", [read])  # without a write list any success counts
