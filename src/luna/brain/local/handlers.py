"""An `IntentMatch` → the tool calls that carry it out, with exact arguments.

Pure and synchronous: dates come out as ISO local strings ("2026-03-12T10:00") computed from the
clock in `Env`, so the same utterance always plans the same calls and tests can compare them.
Arguments equal to a tool's default are left out. `plan()` returns None when the words turn out
not to be something Luna should do locally, so the LLM gets them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from luna.brain.local import recurrence, timephrase
from luna.brain.local.goaltext import goal_parts
from luna.brain.local.lists import HouseholdLists
from luna.brain.local.recognizer import IntentMatch
from luna.brain.local.timephrase import When, iso_minute
from luna.brain.local.words import capitalize
from luna.domain.localday import local_date


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    intent: str
    calls: list[ToolCall] = field(default_factory=list)
    reply: str | None = None
    """A reply that needs no tool (greetings, thanks, help)."""
    said: dict[str, Any] = field(default_factory=dict)
    """What the reply should read back (the chore as named, who did it, ...)."""


@dataclass(frozen=True, slots=True)
class Env:
    now: datetime
    """Aware UTC instant (the services' clock)."""
    tz: str
    speaker: str
    lists: HouseholdLists
    day_start: time = time(3, 0)
    speaker_role: str = "adult"

    @property
    def local_now(self) -> datetime:
        """The member's wall clock, naive."""
        return self.now.astimezone(ZoneInfo(self.tz)).replace(tzinfo=None, microsecond=0)

    @property
    def today(self) -> date:
        return self.local_now.date()

    @property
    def member_today(self) -> date:
        """Today as habits count it: before `day_start` it is still yesterday."""
        return local_date(self.now, self.tz, self.day_start)


Handler = Callable[[IntentMatch, Env], "Plan | None"]
_HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def plan(match: IntentMatch, env: Env) -> Plan | None:
    handler = _HANDLERS.get(match.intent)
    return handler(match, env) if handler is not None else None


def call(intent: str, tool: str, said: dict[str, Any] | None = None, **arguments: Any) -> Plan:
    args = {k: v for k, v in arguments.items() if v is not None}
    return Plan(intent, [ToolCall(tool, args)], said=said or {})


# --- shared pieces -----------------------------------------------------------------------------


def due_iso(when: When, env: Env, *, default_time: time = time(9, 0)) -> str | None:
    at = timephrase.resolve_datetime(when, env.local_now, default_time=default_time)
    return iso_minute(at) if at is not None else None


def day_iso(when: When, env: Env, *, past: bool = False) -> str | None:
    if when.day is None:
        if when.minutes_ahead is not None or when.time is not None:
            at = timephrase.resolve_datetime(when, env.local_now)
            return at.date().isoformat() if at else None
        return None
    today = env.member_today if past else env.today
    day = timephrase.resolve_day(when.day, today, past=past)
    return day.isoformat() if day else None


def other_member(env: Env, name: str | None) -> str | None:
    """A member's name for a tool, or None when it is the speaker (the tools' default)."""
    if not name or name == env.speaker:
        return None
    return name


_PRIORITY = [
    (re.compile(r"(?i)^\s*(urgent|asap)\s*[:,-]\s*|[\s,;-]*\b(it'?s urgent|urgent|asap|"
                r"urgently)\s*!*\s*$"), "urgent"),
    (re.compile(r"(?i)^\s*(important|high priority)\s*[:,-]\s*|[\s,;-]*\b(it'?s important|"
                r"important|high priority|top priority)\s*!*\s*$"), "high"),
    (re.compile(r"(?i)^\s*low priority\s*[:,-]\s*|[\s,;-]*\b(low priority|no rush|"
                r"whenever)\s*$"), "low"),
]


def take_priority(text: str) -> tuple[str, str | None]:
    for pattern, level in _PRIORITY:
        if pattern.search(text):
            return pattern.sub("", text).strip(" ,;-"), level
    return text, None


def tidy_title(text: str) -> str:
    value = re.sub(r"(?i)^(to|that|about|i need to|i have to|i should|i gotta)\s+", "",
                   text.strip())
    value = re.sub(r"(?i)\s+(please|pls|plz|for me|thanks|thank you)$", "", value)
    return capitalize(value.strip(" ,;:-.!?"))


# --- small talk --------------------------------------------------------------------------------


@handles("Greeting")
def greeting(m: IntentMatch, env: Env) -> Plan:
    return Plan("Greeting", reply=f"Hi {env.speaker}! What can I do for you?")


@handles("Thanks")
def thanks(m: IntentMatch, env: Env) -> Plan:
    return Plan("Thanks", reply=f"Anytime, {env.speaker}!")


HELP = ("I can add tasks and reminders, log habits and check-ins, track goals, run the family "
        "chores, put things on the calendar and pass messages along. Try \"remind me to call "
        "the dentist tomorrow at 3\" or \"Ben did the dishes\".")


@handles("Help")
def help_(m: IntentMatch, env: Env) -> Plan:
    return Plan("Help", reply=HELP)


@handles("Undo")
def undo(m: IntentMatch, env: Env) -> Plan:
    return call("Undo", "undo_last_action")


# --- tasks -------------------------------------------------------------------------------------


@handles("AddTask")
def add_task(m: IntentMatch, env: Env) -> Plan | None:
    rest, priority = take_priority(str(m.slots.get("rest", "")))
    when = m.slots.get("when")
    if not isinstance(when, When):
        split = timephrase.split_trailing(rest)
        if split.when is None:
            split = timephrase.split_leading(rest)
        rest, when = split.rest, split.when
    title = tidy_title(rest)
    if not title:
        return None
    due = due_iso(when, env) if when is not None else None
    return call("AddTask", "create_task", title=title, due=due, priority=priority)


def _window(when: When, env: Env) -> tuple[date, date | None] | None:
    return timephrase.resolve_window(when, env.today)


@handles("ListTasks")
def list_tasks(m: IntentMatch, env: Env) -> Plan | None:
    view = m.slots.get("view", "open")
    if view == "due":
        when = m.slots.get("when")
        span = _window(when, env) if isinstance(when, When) else None
        if span is None:
            return None
        start, end = span
        last = end or start
        return call("ListTasks", "get_tasks", {"view": view},
                    due_from=f"{start.isoformat()}T00:00",
                    due_to=f"{(last + timedelta(days=1)).isoformat()}T00:00")
    if view == "priority":
        return call("ListTasks", "get_tasks", {"view": view}, priority=m.slots.get("priority"))
    if view == "completed":
        return call("ListTasks", "get_tasks", {"view": view}, status="completed")
    if view == "overdue":
        return call("ListTasks", "get_tasks", {"view": view}, overdue_only=True)
    if view == "overdue_all":
        return Plan("ListTasks", [ToolCall("get_tasks", {"overdue_only": True}),
                                  ToolCall("get_overdue_chores", {})], said={"view": view})
    return call("ListTasks", "get_tasks", {"view": "open"})


@handles("CompleteTask")
def complete_task(m: IntentMatch, env: Env) -> Plan | None:
    task = m.slots.get("task")
    if not task:
        return None
    return call("CompleteTask", "complete_task", {"task": task}, task=task)


@handles("RescheduleTask")
def reschedule_task(m: IntentMatch, env: Env) -> Plan | None:
    task, when = m.slots.get("task"), m.slots.get("when")
    if not task or not isinstance(when, When):
        return None
    known = env.lists.task(str(task))
    # "move the vet to wednesday" keeps the appointment's time of day.
    keep = known.due.time() if known is not None and known.due is not None else time(9, 0)
    due = due_iso(when, env, default_time=keep)
    if due is None:
        return None
    return call("RescheduleTask", "reschedule_task", {"task": task}, task=task, due=due)


# --- calendar ----------------------------------------------------------------------------------


@handles("Schedule")
def schedule(m: IntentMatch, env: Env) -> Plan | None:
    when = m.slots.get("when")
    start: date = env.today
    end: date | None = None
    if isinstance(when, When):
        span = _window(when, env)
        if span is None:
            return None
        start, end = span
    span = m.slots.get("span")
    if not isinstance(when, When) and span in ("week", "weekend"):
        ref = timephrase.DayRef("week" if span == "week" else "weekend")
        window = timephrase.resolve_window(When(day=ref), env.today)
        if window is not None:
            start, end = window
    member = None if "self" in m.slots else other_member(env, m.slots.get("member"))
    return call("Schedule", "get_schedule", {"member": member or env.speaker},
                start=start.isoformat(), end=end.isoformat() if end else None, member=member)


_EVENING = re.compile(
    r"(?i)\b(dinner|supper|party|drinks|date night|movie|concert|show|bedtime|game night|"
    r"sleepover|bonfire|fireworks|bbq|barbecue)\b"
)
_LOCATION = re.compile(r"(?i)\s+(?:at|@)\s+(?!\d)(?P<place>(?:the\s+)?[\w' .-]+)$")
_FOR_PEOPLE = re.compile(r"(?i)\s+(?:for|with)\s+(?P<names>[\w' ,&-]+)$")


def _people_in(names: str, env: Env) -> list[str] | None:
    parts = [p.strip() for p in re.split(r"\s*(?:,|&|\band\b)\s*", names) if p.strip()]
    found = []
    for p in parts:
        low = p.lower()
        if low in {"me", "myself"}:
            found.append(env.speaker)
            continue
        member = env.lists.member(low.removesuffix("'s"))
        if member is None:
            return None
        found.append(member.name)
    return list(dict.fromkeys(found)) or None


@handles("AddEvent")
def add_event(m: IntentMatch, env: Env) -> Plan | None:
    title = str(m.slots.get("title", ""))
    when = m.slots.get("when")
    if not isinstance(when, When):
        split = timephrase.split_trailing(title)
        if split.when is None:
            split = timephrase.split_leading(title)
        title, when = split.rest, split.when
    if when is None or (when.day is None and when.time is None):
        return None  # no day to put it on: the LLM can ask
    members: list[str] = []
    if m.slots.get("member"):
        members.append(str(m.slots["member"]))
    people = _FOR_PEOPLE.search(title)
    if people:
        named = _people_in(people.group("names"), env)
        if named:
            members += named
            title = title[: people.start()]
    location = m.slots.get("location")
    place = None if location else _LOCATION.search(title)
    if place:
        location = place.group("place").strip()
        title = title[: place.start()]
    possessive = re.match(r"^([\w]+)'s\b", title.strip())
    if possessive:
        owner = env.lists.member(possessive.group(1))
        if owner is not None:
            members.append(owner.name)
    title = capitalize(re.sub(r"(?i)^(an?|the)\s+", "", title.strip(" ,;:-.!?")))
    if not title:
        return None
    all_day = not when.has_clock
    if all_day:
        day = day_iso(when, env)
        if day is None:
            return None
        start, end = day, None
    else:
        if _EVENING.search(title):
            when = timephrase.prefer_evening(when)
        at = timephrase.resolve_datetime(when, env.local_now)
        if at is None:
            return None
        start = iso_minute(at)
        stop = timephrase.resolve_end_datetime(when, at)
        end = iso_minute(stop) if stop else None
    return call("AddEvent", "add_event", {"title": title}, title=title, start=start, end=end,
                all_day=True if all_day else None, location=location,
                members=list(dict.fromkeys(members)) or None)


# --- messages ----------------------------------------------------------------------------------


def _recipients(m: IntentMatch, env: Env) -> list[str]:
    names: list[str] = []
    for key in ("recipient", "recipient2", "recipient3"):
        value = m.slots.get(key)
        if not value:
            continue
        others = [x for x in env.lists.members if x.name != env.speaker]
        if value == "@kids":
            names += [x.name for x in others if x.role == "child"]
        elif value == "@adults":
            names += [x.name for x in others if x.role != "child"]
        else:
            names.append(str(value))
    if "everyone" in names:
        return ["everyone"]
    return list(dict.fromkeys(names))


@handles("SendMessage")
def send_message(m: IntentMatch, env: Env) -> Plan | None:
    to = _recipients(m, env)
    body = str(m.slots.get("body", "")).strip().rstrip(".")
    body = re.sub(r"(?i)^(that|saying|to say)\s+", "", body)
    if not to or not body:
        return None
    style = m.slots.get("style")
    if style == "ask":
        body = f"Can you {body.rstrip('?.! ')}?"
    elif style == "remind":
        body = f"Don't forget to {body.rstrip('.! ')}!"
    else:
        body = capitalize(body)
    return call("SendMessage", "send_family_message", {"to": to}, to=to, body=body)


# --- chores ------------------------------------------------------------------------------------


@handles("CompleteChore")
def complete_chore(m: IntentMatch, env: Env) -> Plan | None:
    chore = m.slots.get("chore")
    if not chore:
        return None
    who = str(m.slots.get("member") or env.speaker)
    return call("CompleteChore", "complete_chore", {"chore": chore, "who": who},
                chore=chore, completed_by=who)


@handles("RescheduleChore")
def reschedule_chore(m: IntentMatch, env: Env) -> Plan | None:
    chore, when = m.slots.get("chore"), m.slots.get("when")
    if not chore or not isinstance(when, When):
        return None
    day = day_iso(when, env)
    if day is None:
        return None
    return call("RescheduleChore", "reschedule_chore", {"chore": chore}, chore=chore, day=day)


@handles("DelegateChore")
def delegate_chore(m: IntentMatch, env: Env) -> Plan | None:
    chore, to = m.slots.get("chore"), m.slots.get("member")
    if not chore or not to:
        return None
    return call("DelegateChore", "delegate_chore", {"chore": chore, "to": to}, chore=chore, to=to)


@handles("GetChores")
def get_chores(m: IntentMatch, env: Env) -> Plan | None:
    when = m.slots.get("when")
    day = day_iso(when, env) if isinstance(when, When) else None
    member = m.slots.get("member")
    return call("GetChores", "get_chores", {"chore": m.slots.get("chore"), "member": member},
                member=member, day=day)


@handles("OverdueChores")
def overdue_chores(m: IntentMatch, env: Env) -> Plan:
    member = m.slots.get("member")
    return call("OverdueChores", "get_overdue_chores", {"member": member}, member=member)


@handles("SuggestChores")
def suggest_chores(m: IntentMatch, env: Env) -> Plan:
    return call("SuggestChores", "suggest_chores", {"chore": m.slots.get("chore")})


_TURNS_AFTER = re.compile(
    r"(?i)\s*[,;]\s*(?P<names>[\w' &-]+?)\s+(?:take|taking|will take|can take|alternate|"
    r"alternating|rotate|rotating|share|sharing) (?:turns|it)?\s*$"
)
_LEADING_FOR = re.compile(r"(?i)^(?:for|so)\s+(?P<name>[\w']+)\s+(?:to|can|will)\s+")
_ROTATION = re.compile(
    r"(?i)[\s,]*\b(?:rotat(?:e|es|ing)|alternat(?:e|es|ing)|tak(?:e|es|ing) turns|in turns|"
    r"rotation)\s+(?:between|among|with|of|for)?\s*(?P<names>[\w' ,&-]+?)\s*$"
)
_ASSIGNEE = re.compile(
    r"(?i)[\s,]*\b(?:for|assign(?:ed)? (?:it )?to|to be done by|done by|by)\s+"
    r"(?P<name>[\w']+)\s*$"
)
_POINTS = re.compile(r"(?i)[\s,]*\b(?:worth|for|at|give it)?\s*(?P<n>\d+)\s*(?:points?|pts?)\b")
_STARTING = re.compile(r"(?i)[\s,]*\b(?:starting|beginning|from|as of)\s+(?P<when>.+)$")


@handles("CreateChore")
def create_chore(m: IntentMatch, env: Env) -> Plan | None:
    text = str(m.slots.get("rest", ""))
    rec, text = recurrence.extract(text)
    points = None
    pm = _POINTS.search(text)
    if pm:
        points = int(pm.group("n"))
        text = (text[: pm.start()] + text[pm.end():]).strip()
    rotation = None
    rm = _ROTATION.search(text) or _TURNS_AFTER.search(text)
    if rm:
        rotation = _people_in(rm.group("names"), env)
        if rotation is None:
            return None
        text = text[: rm.start()]
    start_day: str | None = None
    sm = _STARTING.search(text)
    if sm:
        when = timephrase.parse(sm.group("when"))
        if when is not None:
            start_day = day_iso(when, env)
            text = text[: sm.start()]
    assignee = m.slots.get("member") or (env.speaker if m.slots.get("subject") == "i" else None)
    lead = _LEADING_FOR.match(text)
    if lead and assignee is None:
        who = env.lists.member(lead.group("name"))
        if who is not None:
            assignee, text = who.name, text[lead.end():]
    due_time: str | None = None
    for _ in range(3):  # "for Ava by 6pm" and "by 6pm for Ava" both work
        am = _ASSIGNEE.search(text)
        if am and assignee is None:
            said = am.group("name").removesuffix("'s")
            who = env.lists.member(said)
            if who is not None or said.lower() in {"me", "myself"}:
                assignee = who.name if who is not None else env.speaker
                text = text[: am.start()]
                continue
        split = timephrase.split_trailing(text)
        if split.when is None:
            break
        text = split.rest
        if split.when.day is not None and start_day is None:
            start_day = day_iso(split.when, env)
        if split.when.has_clock and split.when.time is not None and due_time is None:
            due_time = _hhmm(split.when.time)
    title = tidy_title(text)
    if not title:
        return None
    args: dict[str, Any] = {"title": title, "assignee": assignee}
    if rec is None:
        args["schedule"] = "once"
    else:
        args["schedule"] = rec.schedule
        if rec.weekdays:
            args["weekdays"] = rec.weekdays
        if rec.every_days is not None:
            args["every_days"] = rec.every_days
        if rec.from_completion:
            args["from_completion"] = True
        if rec.first_weekday is not None and start_day is None:
            ahead = (rec.first_weekday - env.today.weekday()) % 7 or 7
            start_day = (env.today + timedelta(days=ahead)).isoformat()
    args.update(start=start_day, due_time=due_time, points=points, rotation=rotation)
    if rotation and assignee is None:
        args.pop("assignee")
    return call("CreateChore", "create_chore", {"title": title}, **args)


def _hhmm(t: timephrase.TimeRef) -> str:
    return f"{timephrase.hour24(t):02d}:{t.minute:02d}"


# --- habits and check-ins ----------------------------------------------------------------------


_AMOUNT = re.compile(
    r"(?i)^(?:for\s+|about\s+|around\s+)?(?P<n>\d+(?:\.\d+)?|an|a|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|fifteen|twenty|thirty|forty|fifty|sixty)\s*(?P<unit>[a-z]+)?\b"
)
_NOTE_START = re.compile(
    r"(?i)^(before|after|with|during|outside|at|in|on|around|while|first thing|on the)\b"
)
_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60,
}
_UNIT_FORMS = {
    "minutes": {"minutes", "minute", "mins", "min"}, "hours": {"hours", "hour", "hrs", "hr"},
    "miles": {"miles", "mile", "mi"}, "km": {"km", "kilometers", "kilometres", "k"},
    "reps": {"reps", "rep"}, "pages": {"pages", "page"}, "glasses": {"glasses", "glass", "cups"},
}


def _unit_name(word: str | None) -> str | None:
    if not word:
        return None
    low = word.lower()
    for name, forms in _UNIT_FORMS.items():
        if low in forms:
            return name
    return low


def _same_unit(spoken: str | None, habit_unit: str | None) -> bool:
    if spoken is None or habit_unit is None:
        return True
    return _unit_name(spoken) == _unit_name(habit_unit) or spoken.rstrip("s") == habit_unit.rstrip(
        "s")


def _past_day(m: IntentMatch, env: Env, when: When | None = None) -> str | None:
    """The day a log is for, as an ISO date; None for today (the tool's default)."""
    today = env.member_today
    word = m.slots.get("day_word")
    day: date | None = None
    if word in ("yesterday", "last_night"):
        day = today - timedelta(days=1)
    elif word == "-2":
        day = today - timedelta(days=2)
    elif m.slots.get("weekday_word"):
        wd = timephrase.WEEKDAYS.index(str(m.slots["weekday_word"]))
        back = (today.weekday() - wd) % 7 or 7
        day = today - timedelta(days=back)
    elif when is not None and when.day is not None:
        day = timephrase.resolve_day(when.day, today, past=True)
    if day is None or day == today:
        return None
    return day.isoformat()


@handles("LogHabit")
def log_habit(m: IntentMatch, env: Env) -> Plan | None:
    habit = str(m.slots.get("habit", "")).strip()
    if not habit:
        return None
    known = env.lists.habit(habit)
    if known is None:
        habit = capitalize(habit)
    if m.slots.get("skipped"):
        reason = re.sub(r"(?i)^[\s,;.-]*(because|since|as|cause|cuz)?\s*", "",
                        str(m.slots.get("rest", ""))).strip(" ,;.!")
        return call("LogHabit", "log_habit", {"habit": habit}, habit=habit,
                    notes=capitalize(reason) or None, skipped=True)
    value: float | None = None
    spoken_unit = m.slots.get("unit")
    if m.slots.get("n") is not None:
        value = float(m.slots["n"])
    notes: str | None = None
    when: When | None = None
    rest = str(m.slots.get("rest", "")).strip()
    if rest:
        split = timephrase.split_inside(rest)
        when, rest = split.when, split.rest
        am = _AMOUNT.match(rest)
        if am and value is None:
            raw, unit = am.group("n").lower(), am.group("unit")
            unit_ok = bool(unit) and (
                _unit_name(unit) in _UNIT_FORMS or (known is not None and known.unit is not None
                                                    and _same_unit(unit, known.unit)))
            if raw[0].isdigit() or unit_ok:
                value = float(raw) if raw[0].isdigit() else float(_WORD_NUMBERS[raw])
                spoken_unit = unit if unit_ok else None
                rest = rest[am.end():] if unit_ok else rest[am.end("n"):]
        tail = rest.strip()
        if tail and not (re.match(r"^[,;.!-]|^(and|but)\b", tail, re.IGNORECASE)
                         or _NOTE_START.match(tail)):
            return None  # "I ran into Sarah" is not a run; "I ran 4 miles, felt great" is
        rest = re.sub(r"(?i)^[\s,;.-]*(and|but|it)?\s*", "", rest).strip(" ,;.-")
        if rest:
            notes = capitalize(rest)
    if value is not None and _unit_name(spoken_unit) == "hours" and (
        known is None or _unit_name(known.unit) in (None, "minutes")
    ):
        value, spoken_unit = value * 60, "minutes"  # "meditated for an hour" is 60 minutes
    if value is not None and known is not None and not _same_unit(spoken_unit, known.unit):
        amount = int(value) if value.is_integer() else value
        notes = f"{amount} {_unit_name(spoken_unit)}" + (f"; {notes}" if notes else "")
        value = None
    if value is not None and value.is_integer():
        value = int(value)
    day = _past_day(m, env, when)
    return call("LogHabit", "log_habit", {"habit": habit}, habit=habit, value=value, notes=notes,
                day=day)


@handles("HabitSummary")
def habit_summary(m: IntentMatch, env: Env) -> Plan:
    period = m.slots.get("period")
    return call("HabitSummary", "get_habit_summary", {"habit": m.slots.get("habit")},
                period=None if period in (None, "week") else period, habit=m.slots.get("habit"))


@handles("Metrics")
def metrics(m: IntentMatch, env: Env) -> Plan | None:
    args = {k: int(m.slots[k]) for k in ("sleep_quality", "mood", "energy", "exercise_minutes")
            if m.slots.get(k) is not None}
    if not args:
        return None
    # "slept badly last night" is this morning's check-in, not yesterday's.
    last_night = m.slots.get("day_word") == "last_night" and "sleep_quality" in args
    day = None if last_night else _past_day(m, env)
    return call("Metrics", "update_daily_metrics", {}, **args, day=day)


# --- goals -------------------------------------------------------------------------------------


@handles("CreateGoal")
def create_goal(m: IntentMatch, env: Env) -> Plan | None:
    parts = goal_parts(str(m.slots.get("goal_text", "")), env.today)
    if parts is None:
        return None
    if parts["category"] == "personal":
        parts["category"] = None
    if parts["timeframe"] is None and m.slots.get("horizon"):
        parts["timeframe"] = m.slots["horizon"]
    if parts["timeframe"] == "monthly":
        parts["timeframe"] = None  # the tool's default
    return call("CreateGoal", "create_goal", {"title": parts["title"]}, **parts)


@handles("GoalProgress")
def goal_progress(m: IntentMatch, env: Env) -> Plan | None:
    goal = m.slots.get("goal") or m.slots.get("goal_unit")
    if not goal:
        return None
    n = m.slots.get("n")
    amount = 1 if n is None else n
    amount = int(amount) if float(amount).is_integer() else float(amount)
    if m.slots.get("mode") == "value":
        return call("GoalProgress", "update_goal_progress", {"goal": goal}, goal=goal,
                    value=amount)
    return call("GoalProgress", "update_goal_progress", {"goal": goal}, goal=goal, delta=amount)


@handles("GetGoals")
def get_goals(m: IntentMatch, env: Env) -> Plan:
    status = m.slots.get("status", "active")
    return call("GetGoals", "get_goals", {"goal": m.slots.get("goal")},
                status=None if status == "active" else status)


# --- profile -----------------------------------------------------------------------------------


_LIST_FIELDS = {"interests", "challenges", "values", "motivations", "recent_wins"}


def _items(text: str) -> list[str]:
    parts = re.split(r"\s*(?:,|;|\band also\b|\band\b|&|\bplus\b)\s*", text)
    return [p.strip(" .!") for p in parts if p.strip(" .!")]


@handles("UpdateProfile")
def update_profile(m: IntentMatch, env: Env) -> Plan | None:
    field_name = str(m.slots.get("field", ""))
    if field_name in _LIST_FIELDS:
        raw = str(m.slots.get("interest", ""))
        raw = re.sub(r"(?i)\s+(lately|recently|these days|now|a lot)$", "", raw)
        items = [raw.strip(" .!")] if field_name == "recent_wins" else _items(raw)
        if not items:
            return None
        return call("UpdateProfile", "update_user_profile", {"field": field_name},
                    **{field_name: items})
    if field_name == "name":
        name = capitalize(str(m.slots.get("name", "")))
        return call("UpdateProfile", "update_user_profile", {"field": "name"}, name=name)
    if field_name == "timezone":
        return call("UpdateProfile", "update_user_profile", {"field": "timezone"},
                    timezone=m.slots.get("city"))
    if field_name == "communication_style":
        return call("UpdateProfile", "update_user_profile", {"field": field_name},
                    communication_style=m.slots.get("style"))
    return None


# --- planning ----------------------------------------------------------------------------------


@handles("NextAction")
def next_action(m: IntentMatch, env: Env) -> Plan:
    return call("NextAction", "suggest_next_action")


@handles("Briefing")
def briefing(m: IntentMatch, env: Env) -> Plan:
    return call("Briefing", "get_daily_briefing")
