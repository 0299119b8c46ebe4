"""Catch a reply that claims an action no tool performed ("I've added it!" with no call).

Models sometimes answer as if they had called a tool. The member then trusts a task, a
reminder or a message that does not exist, which is worse than no answer at all.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable

from luna.brain.types import Action

HONEST_REPLY = "I couldn't actually do that — want me to try again?"

REPROMPT_NOTE = (
    "Your last reply said something was done, but no tool call in this turn succeeded in "
    "doing it. If the member asked for a change, call the right tool now. Otherwise reply "
    "again without claiming anything was added, scheduled, logged, sent or changed."
)

_DONE_VERBS = (
    "added|scheduled|rescheduled|marked|sent|logged|created|booked|moved|reminded|completed|"
    "set up|saved|updated|recorded|noted|tracked|deleted|removed|cancell?ed|checked off|"
    "put|assigned|delegated|texted|messaged|finished|changed|undone|undid"
)
_ADVERBS = r"(?:(?:just|already|now|also|successfully|gone ahead and|went ahead and)\s+)*"

_CLAIMS = (
    # "I've added", "I have just scheduled", "I went ahead and logged", "I added"
    re.compile(rf"\bi(?:'ve|’ve| have)?\s+{_ADVERBS}(?:{_DONE_VERBS})\b", re.IGNORECASE),
    # "It's been added", "has been scheduled", "is now logged", "it's on your list"
    re.compile(
        rf"\b(?:has|have|had|is|are|was|were|'s|’s)\s+(?:now\s+|been\s+|all\s+)*"
        rf"(?:{_DONE_VERBS})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:it'?s|it’s|that'?s|that’s)\s+(?:now\s+)?on\s+(?:your|the)\s+"
               r"(?:list|calendar|schedule)\b", re.IGNORECASE),
    # "Done!", "All set.", "You're all set", "Consider it done"
    re.compile(r"(?:^|[.!?]\s*)(?:all\s+)?(?:done|set)\s*[!.]", re.IGNORECASE),
    re.compile(r"\b(?:you'?re|you’re|we'?re|we’re)\s+all\s+set\b", re.IGNORECASE),
    re.compile(r"\bconsider it done\b", re.IGNORECASE),
    # A reply that opens with the verb: "Added 'milk' to your list."
    re.compile(rf"(?:^|[.!?]\s+)(?:{_DONE_VERBS})\s+[\"'“‘\w]", re.IGNORECASE),
)

_NEGATED = re.compile(
    r"\b(?:not|no|nothing|never|couldn'?t|could not|can'?t|cannot|didn'?t|did not|haven'?t|hasn'?t|"
    r"wasn'?t|weren'?t|isn'?t|won'?t|unable)\b[^.!?]{0,25}$",
    re.IGNORECASE,
)


def claims_action(reply: str) -> bool:
    """True when the reply says, in the past tense, that something was done."""
    for pattern in _CLAIMS:
        for match in pattern.finditer(reply):
            if not _NEGATED.search(reply[: match.start()]) and not _asks(reply, match):
                return True
    return False


def unbacked_claim(
    reply: str, actions: Iterable[Action], write_tools: Container[str] | None = None
) -> bool:
    """A claim of an action with no successful write tool call this turn to back it.

    `write_tools` names the tools that change something; without it any successful call counts.
    """
    if not claims_action(reply):
        return False
    return not any(a.ok and (write_tools is None or a.tool in write_tools) for a in actions)


def _asks(reply: str, match: re.Match[str]) -> bool:
    """The claim sits in a question ("Have I logged it?"), which is no claim at all."""
    if match.group().rstrip()[-1:] in {".", "!"}:
        return False
    rest = reply[match.end():]
    stop = re.search(r"[.!?]", rest)
    return stop is not None and stop.group() == "?"
