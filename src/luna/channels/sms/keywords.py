"""The carrier keywords every SMS service must honour, and Luna's fixed answers to them."""

from __future__ import annotations

import re
from typing import Literal

Keyword = Literal["opt_out", "opt_in", "help"]

_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "opt_out"),
    **dict.fromkeys(("START", "UNSTOP"), "opt_in"),
    "HELP": "help",
}
_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")

OPTED_OUT = (
    "You're unsubscribed from Luna and won't get any more texts, reminders or check-ins. "
    "Reply START to turn them back on."
)
OPTED_IN = (
    "Welcome back{name}! Luna's texts are on again. Reply HELP for help or STOP to opt out."
)
HELP = (
    "Luna, your family assistant: text me tasks, habits, chores and plans, like \"add "
    "dentist Friday 3pm\". Reply STOP to opt out, START to resume."
)
STILL_OPTED_OUT = (
    "You've opted out of texts from Luna, so I can't answer here. Reply START to turn them "
    "back on."
)
UNKNOWN_SENDER = (
    "Hi! This is Luna, a family assistant. I don't know this number yet; ask your "
    "household's admin to add you."
)
TROUBLE = "Sorry, something went wrong on my side and I couldn't finish that. Please try again."


def keyword(body: str) -> Keyword | None:
    """The keyword a text is, if it is only that word ("stop", "Stop." and " STOP " count)."""
    word = _EDGES.sub("", body).upper()
    return _KEYWORDS.get(word)


def opted_in_text(name: str | None) -> str:
    return OPTED_IN.format(name=f", {name}" if name else "")
