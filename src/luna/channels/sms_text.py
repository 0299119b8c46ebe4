"""SMS text rules, pure: how many segments a text costs, and how to make a reply fit.

A segment is what carriers bill. GSM-7 texts hold 160 septets in one segment and 153 per part
once split (the rest is the concatenation header); characters from the GSM extension table
(``{ } [ ] ~ \\ | ^ €``) take two septets and an escape pair never straddles two parts. Anything
outside GSM-7 switches the whole text to UCS-2: 70 UTF-16 units alone, 67 per part, and a
surrogate pair (an emoji) is never split. Twilio refuses bodies over 1,600 characters.
"""

from __future__ import annotations

import re
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

MAX_CHARS = 1600
DEFAULT_MAX_SEGMENTS = 3

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
_GSM = _GSM_BASIC | _GSM_EXTENSION

# Look-alikes that would otherwise turn a whole reply into UCS-2 and cut its room by more
# than half (Twilio's "smart encoding" does the same on its side).
_LOOKALIKES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ",
    "\u2022": "-", "\u00b7": "-", "\u2026": "...", "\t": " ",
})

_GSM_PART = 153
_GSM_SINGLE = 160
_UCS2_PART = 67
_UCS2_SINGLE = 70
_SENTENCE_END = re.compile(r"[.!?][\"')]?(?=\s)|\n")
_SPACES = re.compile(r"[ ]{2,}")
_BLANK_LINES = re.compile(r"\n{3,}")
# A sentence cut is preferred when it keeps at least this share of the room a word cut would.
_SENTENCE_SHARE = 0.6


def smart_encode(text: str) -> str:
    """Replace typographic quotes, dashes, ellipses and odd spaces with their GSM-7 twins."""
    return text.translate(_LOOKALIKES)


def is_gsm7(text: str) -> bool:
    return _GSM.issuperset(text)


def encoding(text: str) -> Encoding:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _units(text: str) -> list[int]:
    """The cost of each character in the text's encoding: septets, or UTF-16 code units."""
    if is_gsm7(text):
        return [2 if ch in _GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segment_count(text: str) -> int:
    """How many segments the text is billed as (0 for an empty text)."""
    if not text:
        return 0
    gsm = is_gsm7(text)
    if len(text) <= (_GSM_SINGLE if gsm else _UCS2_SINGLE) // 2:
        return 1  # fits even if every character took two units (every reply of a few words)
    units = _units(text)
    if sum(units) <= (_GSM_SINGLE if gsm else _UCS2_SINGLE):
        return 1
    room = _GSM_PART if gsm else _UCS2_PART
    segments, used = 1, 0
    for cost in units:
        # A two-unit character (escape pair, surrogate pair) moves whole to the next part.
        if used + cost > room:
            segments += 1
            used = 0
        used += cost
    return segments


def tidy(text: str) -> str:
    """Trimmed, GSM-friendly, without runs of spaces or of blank lines."""
    lines = [line.rstrip() for line in smart_encode(text).strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", "\n".join(lines)))


def fit_reply(text: str, max_segments: int = DEFAULT_MAX_SEGMENTS) -> str:
    """The reply, shortened if needed to ``max_segments`` and 1,600 characters.

    It is cut at the end of a sentence when that keeps most of the room, else after a whole
    word with an ellipsis; only a single word longer than the room (a URL) is ever split.
    """
    clean = tidy(text)
    if _fits(clean, max_segments):
        return clean
    ellipsis = "..." if is_gsm7(clean) else "…"
    word_cut = _longest_prefix(clean, _word_ends(clean), max_segments, ellipsis)
    sentence_cut = _longest_prefix(clean, _sentence_ends(clean), max_segments, "")
    if word_cut is None:
        return _hard_cut(clean, max_segments, ellipsis)
    if sentence_cut is not None and len(sentence_cut) >= _SENTENCE_SHARE * len(word_cut):
        return sentence_cut
    return word_cut.rstrip(" ,;:-–") + ellipsis


def cap(text: str, limit: int = MAX_CHARS) -> str:
    """At most ``limit`` characters, cut after a whole word; for texts written by people."""
    clean = text.strip()
    if len(clean) <= limit:
        return clean
    room = limit - 3
    cut = clean.rfind(" ", 0, room + 1)
    head = clean[:cut] if cut > 0 else clean[:room]
    return head.rstrip(" ,;:-") + "..."


def _fits(text: str, max_segments: int) -> bool:
    return len(text) <= MAX_CHARS and segment_count(text) <= max_segments


def _word_ends(text: str) -> list[int]:
    return [i for i in range(1, len(text)) if text[i].isspace() and not text[i - 1].isspace()]


def _sentence_ends(text: str) -> list[int]:
    return [m.end() for m in _SENTENCE_END.finditer(text)]


def _longest_prefix(
    text: str, ends: list[int], max_segments: int, suffix: str
) -> str | None:
    """The longest ``text[:end]`` (plus ``suffix``) that fits; segments grow with length."""
    lo, hi, best = 0, len(ends) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        head = text[: ends[mid]].rstrip()
        if head and _fits(head + suffix, max_segments):
            best, lo = head, mid + 1
        else:
            hi = mid - 1
    return best


def _hard_cut(text: str, max_segments: int, ellipsis: str) -> str:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fits(text[:mid] + ellipsis, max_segments):
            lo = mid
        else:
            hi = mid - 1
    head = text[:lo]
    return head + ellipsis
