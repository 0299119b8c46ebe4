"""A small grammar for the time words people text ("next thursday at 10", "monday 5 to 6pm").

Parsing needs no clock: a phrase becomes a `When` (which day, which time, how far ahead), and
`resolve_*` turns it into wall-clock values against the member's local "now". Splitting a phrase
off the end (or the start) of a title is done on tokens, so "renew my library card next thursday
at 10" gives the title "renew my library card" and the phrase "next thursday at 10".

Rules a person would expect (and the tests pin):
- a bare weekday is the coming one; "next <weekday>" is that day in next week (Mon-Sun weeks);
- an hour without am/pm reads as 7-11 morning, 12 noon, 1-6 afternoon; a time already past today
  moves to the evening or to tomorrow;
- "next week" is next Monday, "this weekend" the coming Saturday;
- past-leaning reading (for "I ran on monday"): weekdays and dates are the latest one not after
  today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_WORDS: dict[str, int] = {
    "monday": 0, "mon": 0, "mondays": 0,
    "tuesday": 1, "tue": 1, "tues": 1, "tuesdays": 1,
    "wednesday": 2, "wed": 2, "weds": 2, "wednesdays": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "thursdays": 3,
    "friday": 4, "fri": 4, "fridays": 4,
    "saturday": 5, "saturdays": 5,
    "sunday": 6, "sundays": 6,
}
# "sat" and "sun" are ordinary words ("the cat sat"), so they count only after "on"/"next"/"this".
_SHORT_WEEKEND = {"sat": 5, "sun": 6}
_MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}
_HOUR_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
_MINUTE_WORDS: dict[str, int] = {"fifteen": 15, "thirty": 30, "forty-five": 45, "oh-five": 5}
_COUNT_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "couple": 2, "few": 3, "twenty": 20, "thirty": 30,
}
PARTS: dict[str, time] = {
    "morning": time(9, 0), "afternoon": time(15, 0), "evening": time(18, 0),
    "night": time(20, 0), "tonight": time(20, 0), "noon": time(12, 0), "midday": time(12, 0),
    "lunch": time(12, 0), "lunchtime": time(12, 0), "midnight": time(23, 59),
    "after school": time(15, 30), "after work": time(17, 30), "after dinner": time(19, 0),
    "end of day": time(17, 0), "eod": time(17, 0), "end of the day": time(17, 0),
}
_ORDINAL = re.compile(r"^(\d{1,2})(st|nd|rd|th)?$")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?(am|pm|a|p)?$")
_RANGE = re.compile(r"^(\d{1,2}(?::\d{2})?)(am|pm)?-(\d{1,2}(?::\d{2})?)(am|pm)$")
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_EDGE_PUNCT = ".,;!?\"()"

DayKind = Literal["offset", "weekday", "date", "week", "weekend", "month_end", "week_end"]


@dataclass(frozen=True, slots=True)
class DayRef:
    kind: DayKind
    offset: int = 0
    """Days from today ("tomorrow" = 1), for kind "offset"; weeks ahead for "week"/"weekend"."""
    weekday: int = 0
    next: bool = False
    """"next friday": the Friday of next week, not the coming one."""
    this: bool = False
    month: int = 0
    day: int = 0
    year: int | None = None


@dataclass(frozen=True, slots=True)
class TimeRef:
    hour: int
    minute: int = 0
    meridiem: str | None = None
    """"am", "pm" or None when the speaker didn't say."""
    part: bool = False
    """A part of the day ("morning"), a default rather than an appointment."""


@dataclass(frozen=True, slots=True)
class When:
    day: DayRef | None = None
    time: TimeRef | None = None
    end: TimeRef | None = None
    minutes_ahead: int | None = None
    """"in 2 hours" is exact arithmetic on the instant, not a wall time."""
    text: str = ""

    @property
    def has_clock(self) -> bool:
        return self.minutes_ahead is not None or (self.time is not None and not self.time.part)


@dataclass(frozen=True, slots=True)
class Split:
    """A title with its time phrase taken out."""

    rest: str
    when: When | None


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    word: str
    start: int
    end: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in re.finditer(r"\S+", text):
        word = m.group(0).lower().replace("’", "'").strip(_EDGE_PUNCT)
        word = word.replace("a.m", "am").replace("p.m", "pm").rstrip(".")
        if word in {"tmrw", "tmr", "tmw", "2morrow", "tomorow", "tommorow"}:
            word = "tomorrow"
        if word in {"o'clock", "oclock"}:
            word = "oclock"
        if word:
            out.append(_Tok(word, m.start(), m.end()))
    return out


# --- parsing -----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over words; each rule returns (value, next index) or None."""

    def __init__(self, words: list[str]) -> None:
        self.w = words

    def at(self, i: int, *options: str) -> bool:
        return i < len(self.w) and self.w[i] in options

    def phrase(self, i: int) -> tuple[When, int] | None:
        """The longest phrase starting at i."""
        best: tuple[When, int] | None = None
        for cand in (self._delta(i), self._day_then_time(i), self._time_then_day(i)):
            if cand is not None and (best is None or cand[1] > best[1]):
                best = cand
        return best

    # "in 2 hours", "in 20 minutes", "in 3 days", "in a week"
    def _delta(self, i: int) -> tuple[When, int] | None:
        j = i
        if self.at(j, "by", "for", "due"):
            j += 1
        if not self.at(j, "in"):
            return None
        j += 1
        if self.at(j, "half") and self.at(j + 1, "an") and self.at(j + 2, "hour"):
            return When(minutes_ahead=30), j + 3
        if self.at(j, "a") and self.at(j + 1, "couple", "few"):
            j += 1
        n = self._count(j)
        if n is None:
            return None
        count, j = n
        if self.at(j, "of"):
            j += 1
        unit = self.w[j] if j < len(self.w) else ""
        unit = unit.rstrip("s") if unit not in {"mins", "hrs"} else unit[:-1]
        if unit in {"minute", "min"}:
            return When(minutes_ahead=count), j + 1
        if unit in {"hour", "hr", "h"}:
            return When(minutes_ahead=count * 60), j + 1
        if unit == "day":
            return self._maybe_time(DayRef("offset", offset=count), j + 1)
        if unit == "week":
            return self._maybe_time(DayRef("offset", offset=7 * count), j + 1)
        return None

    def _count(self, i: int) -> tuple[int, int] | None:
        if i >= len(self.w):
            return None
        word = self.w[i]
        if word.isdigit() and 0 < int(word) < 1000:
            return int(word), i + 1
        if word in _COUNT_WORDS:
            return _COUNT_WORDS[word], i + 1
        return None

    def _day_then_time(self, i: int) -> tuple[When, int] | None:
        d = self.day(i)
        if d is None:
            return None
        day, j = d
        return self._maybe_time(day, j)

    def _maybe_time(self, day: DayRef, j: int) -> tuple[When, int]:
        t = self.clock_range(j, after_day=True)
        if t is not None:
            (start, end), k = t
            return When(day=day, time=start, end=end), k
        return When(day=day), j

    def _time_then_day(self, i: int) -> tuple[When, int] | None:
        t = self.clock_range(i, after_day=False)
        if t is None:
            return None
        (start, end), j = t
        k = j
        if self.at(k, "on"):
            k += 1
        d = self.day(k)
        if d is not None:
            day, k = d
            return When(day=day, time=start, end=end), k
        return When(time=start, end=end), j

    # --- days --------------------------------------------------------------------------------

    def day(self, i: int) -> tuple[DayRef, int] | None:
        j = i
        if self.at(j, "on", "by", "for", "due", "before", "until", "till", "starting", "from"):
            j += 1
            if self.at(j, "on"):
                j += 1
        found = self._bare_day(j)
        if found is None:
            return None
        day, k = found
        # "tomorrow morning", "friday night", "this afternoon"
        if self.at(k, "morning", "afternoon", "evening", "night"):
            return replace(day), k  # the part of day is read again by clock_range
        return day, k

    def _bare_day(self, j: int) -> tuple[DayRef, int] | None:
        w = self.w
        if j >= len(w):
            return None
        word = w[j]
        if word in {"today", "tonight"}:
            return DayRef("offset", offset=0), j + (0 if word == "tonight" else 1)
        if word == "tomorrow":
            return DayRef("offset", offset=1), j + 1
        if word == "yesterday":
            return DayRef("offset", offset=-1), j + 1
        if word == "last" and self.at(j + 1, "night"):
            return DayRef("offset", offset=-1), j + 1  # "night" is left for the time of day
        if word == "the" and self.at(j + 1, "day") and self.at(j + 2, "after") and self.at(
            j + 3, "tomorrow"
        ):
            return DayRef("offset", offset=2), j + 4
        if word == "day" and self.at(j + 1, "after") and self.at(j + 2, "tomorrow"):
            return DayRef("offset", offset=2), j + 3
        if word == "this" and self.at(j + 1, "morning", "afternoon", "evening"):
            return DayRef("offset", offset=0), j + 1
        if word in {"this", "next", "coming", "last"} or word == "the" and self.at(
            j + 1, "weekend", "week"
        ):
            return self._relative(j)
        if word in _WEEKDAY_WORDS:
            return DayRef("weekday", weekday=_WEEKDAY_WORDS[word]), j + 1
        if word in _SHORT_WEEKEND and j > 0 and w[j - 1] == "on":
            return DayRef("weekday", weekday=_SHORT_WEEKEND[word]), j + 1
        if word in {"weekend"}:
            return DayRef("weekend"), j + 1
        if word == "end" and self.at(j + 1, "of"):
            k = j + 2 + (1 if self.at(j + 2, "the") else 0)
            if self.at(k, "week"):
                return DayRef("week_end"), k + 1
            if self.at(k, "month"):
                return DayRef("month_end"), k + 1
            return None
        return self._calendar_date(j)

    def _relative(self, j: int) -> tuple[DayRef, int] | None:
        w = self.w
        lead = w[j]
        k = j + 1
        if k >= len(w):
            return None
        word = w[k]
        if word in _WEEKDAY_WORDS or word in _SHORT_WEEKEND:
            wd = _WEEKDAY_WORDS.get(word, _SHORT_WEEKEND.get(word, 0))
            return DayRef("weekday", weekday=wd, next=lead == "next", this=lead == "this"), k + 1
        if word == "week":
            return DayRef("week", offset=1 if lead == "next" else 0), k + 1
        if word == "weekend":
            return DayRef("weekend", offset=1 if lead == "next" else 0), k + 1
        if word == "month" and lead == "next":
            return None
        return None

    def _calendar_date(self, j: int) -> tuple[DayRef, int] | None:
        w = self.w
        word = w[j]
        iso = _ISO.match(word)
        if iso:
            y, m, d = (int(g) for g in iso.groups())
            return DayRef("date", month=m, day=d, year=y), j + 1
        slash = _SLASH.match(word)
        if slash:
            m, d = int(slash.group(1)), int(slash.group(2))
            year = slash.group(3)
            full = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
            if 1 <= m <= 12 and 1 <= d <= 31:
                return DayRef("date", month=m, day=d, year=full), j + 1
            return None
        if word in _MONTHS:
            # "may" is a verb as often as a month: only with a day number after it.
            o = _ORDINAL.match(w[j + 1]) if j + 1 < len(w) else None
            if o and 1 <= int(o.group(1)) <= 31:
                return DayRef("date", month=_MONTHS[word], day=int(o.group(1))), j + 2
            return None
        if word == "the" and j + 1 < len(w):
            o = _ORDINAL.match(w[j + 1])
            if o and o.group(2) and 1 <= int(o.group(1)) <= 31:
                k = j + 2
                if self.at(k, "of") and k + 1 < len(w) and w[k + 1] in _MONTHS:
                    return DayRef("date", month=_MONTHS[w[k + 1]], day=int(o.group(1))), k + 2
                return DayRef("date", day=int(o.group(1))), k
        return None

    # --- times -------------------------------------------------------------------------------

    def clock_range(
        self, i: int, *, after_day: bool
    ) -> tuple[tuple[TimeRef, TimeRef | None], int] | None:
        j = i
        between = False
        if self.at(j, "from"):
            j += 1
        elif self.at(j, "between"):
            between = True
            j += 1
        if j < len(self.w):
            rng = _RANGE.match(self.w[j])
            if rng:
                end = _clock_word(rng.group(3), rng.group(4))
                start = _clock_word(rng.group(1), rng.group(2))
                if start and end:
                    return (start, end), j + 1
        first = self.clock(j, after_day=after_day or j > i)
        if first is None:
            return None
        start, k = first
        joiner = ("and",) if between else ("to", "-", "until", "till", "through", "thru")
        if self.at(k, *joiner) and not start.part:
            second = self.clock(k + 1, after_day=True)
            if second is not None and not second[0].part:
                return (start, second[0]), second[1]
        return (start, None), k

    def clock(self, i: int, *, after_day: bool) -> tuple[TimeRef, int] | None:
        w = self.w
        j = i
        prefixed = False
        if self.at(j, "at", "@", "by", "around", "before"):
            j += 1
            prefixed = True
        elif self.at(j, "for") and j + 1 < len(w) and re.search(r"\d(am|pm|:\d\d)|noon", w[j + 1]):
            j += 1  # "for 5pm", but never "for 20 minutes"
            if self.at(j, "around"):
                j += 1
        if j >= len(w):
            return None
        word = w[j]
        for part in ("after school", "after work", "after dinner", "end of the day",
                     "end of day"):
            n = len(part.split())
            if " ".join(w[j:j + n]) == part:
                return _part(part), j + n
        if word in {"noon", "midday", "midnight", "lunch", "lunchtime", "eod", "tonight"}:
            return _part(word), j + 1
        if word in {"morning", "afternoon", "evening", "night"} and (
            after_day or (j > 0 and w[j - 1] in {"this", "tomorrow", "last"})
        ):
            return _part(word), j + 1
        if word in {"in", "at"} and self.at(j + 1, "the") and self.at(
            j + 2, "morning", "afternoon", "evening"
        ):
            return _part(w[j + 2]), j + 3
        if word == "at" and self.at(j + 1, "night"):
            return _part("night"), j + 2
        if word in {"half", "quarter"} and self.at(j + 1, "past", "to") and j + 2 < len(w):
            base = self._hour_only(j + 2)
            if base is not None:
                hour_ref, k = base
                delta = 30 if word == "half" else 15
                if w[j + 1] == "past":
                    return replace(hour_ref, minute=delta), k
                minute = 60 - delta
                return replace(hour_ref, hour=(hour_ref.hour - 2) % 12 + 1, minute=minute), k
            return None
        m = _CLOCK.match(word)
        if m:
            hour, minute, mer = int(m.group(1)), int(m.group(2) or 0), m.group(3)
            k = j + 1
            if mer is None and self.at(k, "am", "pm", "a", "p"):
                mer, k = w[k], k + 1
            if self.at(k, "oclock"):
                k += 1
            if mer is None and m.group(2) is None and (not (prefixed or after_day) or hour > 12):
                return None  # a bare number ("30 squats", "at 20") is not a time
            made = _make_clock(hour, minute, mer)
            return (made, k) if made is not None else None
        if word in _HOUR_WORDS and (prefixed or after_day):
            hour = _HOUR_WORDS[word]
            k = j + 1
            minute = 0
            if k < len(w) and w[k] in _MINUTE_WORDS:
                minute, k = _MINUTE_WORDS[w[k]], k + 1
            mer = None
            if self.at(k, "am", "pm"):
                mer, k = w[k], k + 1
            if self.at(k, "oclock"):
                k += 1
            made = _make_clock(hour, minute, mer)
            return (made, k) if made is not None else None
        return None

    def _hour_only(self, j: int) -> tuple[TimeRef, int] | None:
        word = self.w[j]
        if word.isdigit() and 1 <= int(word) <= 12:
            return TimeRef(int(word)), j + 1
        if word in _HOUR_WORDS:
            return TimeRef(_HOUR_WORDS[word]), j + 1
        return None


_EXACT_PARTS = frozenset({"noon", "midday", "midnight"})


def _part(word: str) -> TimeRef:
    t = PARTS[word]
    # "at noon" is an appointment; "in the morning" only says roughly when.
    return TimeRef(t.hour, t.minute, None, part=word not in _EXACT_PARTS)


def _clock_word(clock: str, meridiem: str | None) -> TimeRef | None:
    m = _CLOCK.match(clock)
    if m is None:
        return None
    return _make_clock(int(m.group(1)), int(m.group(2) or 0), meridiem)


def _make_clock(hour: int, minute: int, mer: str | None) -> TimeRef | None:
    if mer in {"a", "p"}:
        mer = mer + "m"
    if minute > 59 or hour > 23 or (mer is not None and not 1 <= hour <= 12):
        return None
    return TimeRef(hour, minute, mer)


def parse(text: str) -> When | None:
    """The whole of `text` as a time phrase, or None."""
    toks = _tokens(text)
    if not toks:
        return None
    found = _Parser([t.word for t in toks]).phrase(0)
    if found is None or found[1] != len(toks):
        return None
    return replace(found[0], text=text.strip())


_CONNECT_BEFORE = {"on", "at", "by", "for", "due", "before", "until", "till", "starting", "from"}


def split_trailing(text: str) -> Split:
    """Take the longest time phrase off the end of `text` ("call mom tomorrow at 5")."""
    toks = _tokens(text)
    words = [t.word for t in toks]
    parser = _Parser(words)
    for i in range(1, len(toks)):
        found = parser.phrase(i)
        if found is not None and found[1] == len(toks):
            rest = text[: toks[i].start].rstrip(" ,;:-")
            phrase = text[toks[i].start:].strip()
            return Split(rest, replace(found[0], text=phrase))
    return Split(text.strip(), None)


def split_leading(text: str) -> Split:
    """Take the longest time phrase off the start of `text` ("tomorrow at 9 to call mom")."""
    toks = _tokens(text)
    parser = _Parser([t.word for t in toks])
    found = parser.phrase(0)
    if found is None or found[1] >= len(toks):
        return Split(text.strip(), None)
    end = found[1]
    rest = text[toks[end].start:].lstrip(" ,;:-")
    return Split(rest, replace(found[0], text=text[: toks[end - 1].end].strip()))


def split_inside(text: str) -> Split:
    """The longest time phrase anywhere in `text` ("ran 3 miles yesterday, felt great")."""
    toks = _tokens(text)
    parser = _Parser([t.word for t in toks])
    best: tuple[int, int, When] | None = None
    for i in range(len(toks)):
        found = parser.phrase(i)
        if found is not None and (best is None or found[1] - i > best[1] - best[0]):
            best = (i, found[1], found[0])
    if best is None:
        return Split(text.strip(), None)
    i, j, when = best
    last = toks[j - 1]
    # The phrase ends at its last word, not at the comma after it ("yesterday, felt great").
    start, end = toks[i].start, last.start + len(text[last.start:last.end].rstrip(_EDGE_PUNCT))
    rest = (text[:start].rstrip(" ,;") + " " + text[end:].lstrip()).strip(" ,;")
    return Split(re.sub(r"\s+,", ",", rest), replace(when, text=text[start:end]))


def split_any(text: str) -> Split:
    """A trailing phrase if there is one, else a leading one."""
    tail = split_trailing(text)
    if tail.when is not None:
        return tail
    return split_leading(text)


# --- resolving ---------------------------------------------------------------------------------


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def prefer_evening(when: When) -> When:
    """"dinner at 7" is 7 pm: an hour with no am/pm, 7 to 11, moves to the evening."""
    t = when.time
    if t is None or t.meridiem is not None or t.part or not 7 <= t.hour <= 11:
        return when
    return replace(when, time=replace(t, meridiem="pm"))


def resolve_day(ref: DayRef, today: date, *, past: bool = False) -> date | None:
    """The calendar day `ref` names, leaning to the future (or to the past for logs)."""
    if ref.kind == "offset":
        return today + timedelta(days=ref.offset)
    if ref.kind == "weekday":
        if ref.next:
            return monday_of(today) + timedelta(days=7 + ref.weekday)
        ahead = (ref.weekday - today.weekday()) % 7
        if past:
            back = (today.weekday() - ref.weekday) % 7
            return today - timedelta(days=back if back or ref.this else 7)
        if ahead == 0 and not ref.this:
            ahead = 7
        return today + timedelta(days=ahead)
    if ref.kind == "week":
        return monday_of(today) + timedelta(days=7) if ref.offset else today
    if ref.kind == "weekend":
        sat = monday_of(today) + timedelta(days=5 + 7 * ref.offset)
        return max(sat, today) if ref.offset == 0 else sat
    if ref.kind == "week_end":
        fri = monday_of(today) + timedelta(days=4)
        return fri if fri >= today else fri + timedelta(days=7)
    if ref.kind == "month_end":
        first_next = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return first_next - timedelta(days=1)
    return _resolve_date(ref, today, past=past)


def _resolve_date(ref: DayRef, today: date, *, past: bool) -> date | None:
    try:
        return _month_day(ref, today, past=past)
    except ValueError:  # "february 30th"
        return None


def _month_day(ref: DayRef, today: date, *, past: bool) -> date:
    if ref.month == 0:  # "the 15th": this month, or the next (the last) one
        d = date(today.year, today.month, ref.day)
        if past and d > today:
            prev = today.replace(day=1) - timedelta(days=1)
            return date(prev.year, prev.month, ref.day)
        if not past and d < today:
            nxt = date(today.year + today.month // 12, today.month % 12 + 1, 1)
            return date(nxt.year, nxt.month, ref.day)
        return d
    year = ref.year if ref.year is not None else today.year
    d = date(year, ref.month, ref.day)
    if ref.year is None:
        if past and d > today:
            d = date(year - 1, ref.month, ref.day)
        elif not past and d < today:
            d = date(year + 1, ref.month, ref.day)
    return d


def resolve_window(when: When, today: date) -> tuple[date, date | None] | None:
    """A day range for schedules: a single day (end None), a week, or a weekend."""
    ref = when.day
    if ref is None:
        return (today, None) if when.time is not None else None
    if ref.kind == "week":
        start = monday_of(today) + timedelta(days=7) if ref.offset else today
        return start, monday_of(start) + timedelta(days=6)
    if ref.kind == "weekend":
        sat = resolve_day(ref, today)
        if sat is None:
            return None
        return sat, monday_of(sat) + timedelta(days=6)
    day = resolve_day(ref, today)
    return (day, None) if day is not None else None


def hour24(t: TimeRef) -> int:
    """An hour with am/pm applied; unspecified hours lean to waking hours (7-11 am, 1-6 pm)."""
    if t.meridiem == "am":
        return 0 if t.hour == 12 else t.hour
    if t.meridiem == "pm":
        return t.hour if t.hour == 12 else t.hour + 12
    if t.part or t.hour >= 13 or t.hour == 0:
        return t.hour
    if t.hour == 12:
        return 12
    return t.hour + 12 if t.hour <= 6 else t.hour


def resolve_clock(t: TimeRef, day: date, now: datetime | None) -> time:
    """`t` on `day`; an unspecified am/pm that is already past today becomes the pm reading."""
    h = hour24(t)
    if t.meridiem is None and not t.part and 1 <= t.hour <= 11 and now is not None:
        if day == now.date() and time(h, t.minute) <= now.time() and h < 12:
            h += 12
    return time(h, t.minute)


def resolve_end(start: TimeRef, end: TimeRef) -> tuple[TimeRef, TimeRef]:
    """"5 to 6pm": the start borrows the end's am/pm when that keeps it before the end."""
    if start.meridiem is None and end.meridiem is not None and start.hour <= 12:
        guess = replace(start, meridiem=end.meridiem)
        if hour24(guess) <= hour24(end):
            return guess, end
        other = "am" if end.meridiem == "pm" else "pm"
        return replace(start, meridiem=other), end
    return start, end


def resolve_datetime(
    when: When, now: datetime, *, default_time: time = time(9, 0)
) -> datetime | None:
    """A naive local wall time for `when`; `now` is the member's naive local now."""
    if when.minutes_ahead is not None:
        return now + timedelta(minutes=when.minutes_ahead)
    today = now.date()
    start_ref = when.time
    if start_ref is not None and when.end is not None:
        start_ref, _ = resolve_end(start_ref, when.end)
    if when.day is not None:
        day = resolve_day(when.day, today)
        if day is None:
            return None
        if start_ref is None:
            return datetime.combine(day, default_time)
        return datetime.combine(day, resolve_clock(start_ref, day, now))
    if start_ref is None:
        return None
    at = datetime.combine(today, resolve_clock(start_ref, today, now))
    if at <= now:
        at += timedelta(days=1)
    return at


def resolve_end_datetime(when: When, start: datetime) -> datetime | None:
    """The end of a "5 to 6pm" range, on the start's day (or the next one if it wraps)."""
    if when.end is None or when.time is None:
        return None
    _, end = resolve_end(when.time, when.end)
    stop = datetime.combine(start.date(), time(hour24(end), end.minute))
    if stop <= start:
        stop += timedelta(days=1)
    return stop


def iso_minute(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")
