"""What is due: a pure function of one member's settings and items, what was already sent, and now.

Every nudge has a key that names the member, the kind and the local date (or the item). The key
is what makes sending exactly-once: the runner claims it in the database before sending, so a
nudge that was sent, skipped or suppressed for a key is never considered again.

Times of day are wall times in the member's zone, turned into instants with `combine_local` for
each local date: a time skipped by a DST gap moves forward, a repeated one fires at its first
occurrence, and since the key carries the local date, each date fires once whatever the clock did.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from luna.domain.localday import DEFAULT_DAY_START, combine_local, local_date, local_now

Kind = Literal[
    "morning_briefing", "evening_reflection", "habit_reminder", "deadline", "overdue_digest",
    "critical",
]
Channel = Literal["sms", "call"]
Action = Literal["send", "schedule", "skip", "suppress"]
""""schedule": to be sent at its moment, which is a few minutes off (see `lead`)."""

STATUS: dict[Action, str] = {"send": "pending", "schedule": "scheduled", "skip": "skipped",
                             "suppress": "suppressed"}
"""The status a claimed key starts with; "pending" becomes "sent" or "failed" once dispatched,
and "scheduled" becomes "pending" when its moment comes (the store's `release`)."""
SCHEDULED = STATUS["schedule"]
RETRY = "retry"
"""A claimed nudge whose send failed before anything was handed to a provider: it is planned
again (and re-claimed atomically) while it is still within the catch-up window."""
ESCALATES = frozenset({"scheduled", "pending", "sent", "failed"})
"""A critical step that went out (or tried to, or is about to) lets the next one follow if
nobody answers."""


@dataclass(frozen=True, slots=True)
class Quiet:
    """Quiet hours as wall times; a window whose start is after its end runs over midnight."""

    start: time = time(21, 30)
    end: time = time(7, 0)

    def contains(self, wall: time) -> bool:
        wall = wall.replace(tzinfo=None, second=0, microsecond=0)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


@dataclass(frozen=True, slots=True)
class HabitSlot:
    id: int
    name: str
    reminder: time
    created_at: datetime
    due_days: frozenset[date]
    """The member's days (turning over at `day_start`) on which the habit's rule wants it
    done, whether or not it has been logged yet."""
    logged_days: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class TaskSlot:
    """An open task with a due time."""

    id: int
    title: str
    due_at: datetime
    created_at: datetime
    critical: bool = False


@dataclass(frozen=True, slots=True)
class ChoreSlot:
    """A chore assigned to the member, with the instant it is (or will be) overdue."""

    id: int
    title: str
    overdue_at: datetime


@dataclass(frozen=True, slots=True)
class Sent:
    """A claimed key: its status and when it was claimed."""

    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class MemberState:
    member_id: int
    tz: str
    morning: time | None = time(7, 0)
    evening: time | None = time(21, 0)
    prefer_voice: bool = False
    quiet: Quiet = field(default_factory=Quiet)
    opted_out: bool = False
    has_phone: bool = True
    day_start: time = DEFAULT_DAY_START
    habits: tuple[HabitSlot, ...] = ()
    tasks: tuple[TaskSlot, ...] = ()
    chores: tuple[ChoreSlot, ...] = ()
    sent: Mapping[str, Sent] = field(default_factory=dict)
    last_inbound_at: datetime | None = None
    """The member's latest message or call to Luna: an answer to a critical alert."""


@dataclass(frozen=True, slots=True)
class Rules:
    catchup: timedelta = timedelta(minutes=30)
    deadline_lead: timedelta = timedelta(minutes=60)
    escalate_after: timedelta = timedelta(minutes=15)
    overdue_grace: timedelta = timedelta(minutes=15)
    overdue_time: time = time(12, 0)
    lookback: timedelta = timedelta(days=2)
    """How far back after a long outage nudges are still looked at (and logged as skipped)."""
    horizon: timedelta = timedelta(hours=24)
    """The latest a member is looked at again, even with nothing planned: a daily heartbeat."""
    plan_ahead: timedelta = timedelta(0)
    """The most a nudge is decided before its moment (each member's own share of it: `lead`)."""


@dataclass(frozen=True, slots=True)
class Due:
    """One nudge whose moment has come, and what to do with it."""

    kind: Kind
    key: str
    channel: Channel
    due_at: datetime
    action: Action
    local_date: date
    ref: int | None = None
    step: int = 0
    """For critical items: 1 SMS, 2 call, 3 the backup member."""
    reason: str | None = None
    items: tuple[tuple[str, int], ...] = ()
    """For the overdue digest: ("task" | "chore", id) of what it is about."""
    retry: bool = False
    """The key exists with status "retry": re-claim it rather than insert it."""


@dataclass(frozen=True, slots=True)
class Plan:
    nudges: tuple[Due, ...]
    next_at: datetime | None
    """When to look at this member again."""


_GOLDEN = 0.6180339887498949


def lead(member_id: int, rules: Rules) -> timedelta:
    """How long before a nudge's moment this member is planned: a fixed share of
    `rules.plan_ahead`, spread evenly over the members by their id (the golden-ratio sequence).
    Thousands of members want their briefing at 07:00; planned together at 07:00 they made one
    tick seconds long, while spread over the minutes before it each tick plans a slice."""
    if rules.plan_ahead <= timedelta(0):
        return timedelta(0)
    share = (member_id * _GOLDEN) % 1.0
    return timedelta(seconds=int(rules.plan_ahead.total_seconds() * share))


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: Kind
    key: str
    channel: Channel
    due_at: datetime
    local_date: date
    ref: int | None = None
    step: int = 0
    exempt_quiet: bool = False
    items: tuple[tuple[str, int], ...] = ()


# -- wall times ----------------------------------------------------------------------------------
# Memoised: every member of a zone asks for the same few instants (07:00 today, midnight
# tomorrow...), and converting them anew for each member was a good part of planning a batch.


@functools.lru_cache(maxsize=65536)
def _combine(day: date, at: time, tz: str) -> datetime:
    return combine_local(day, at, tz)


@functools.lru_cache(maxsize=65536)
def _day_of(instant: datetime, tz: str, day_start: time) -> date:
    return local_date(instant, tz, day_start)


# -- keys ----------------------------------------------------------------------------------------


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def day_key(member_id: int, kind: Kind, day: date) -> str:
    return f"m{member_id}:{kind}:{day.isoformat()}"


def habit_key(member_id: int, habit_id: int, day: date) -> str:
    return f"m{member_id}:habit_reminder:{habit_id}:{day.isoformat()}"


def deadline_key(member_id: int, task_id: int, due_at: datetime) -> str:
    return f"m{member_id}:deadline:{task_id}:{_stamp(due_at)}"


def critical_key(member_id: int, task_id: int, due_at: datetime, step: int) -> str:
    return f"m{member_id}:critical:{task_id}:{_stamp(due_at)}:{step}"


# -- candidates ----------------------------------------------------------------------------------


def _voice_or_sms(m: MemberState) -> Channel:
    return "call" if m.prefer_voice else "sms"


def _day_candidates(m: MemberState, day: date) -> Iterable[_Candidate]:
    # A check-in time is the member's own choice, so it may sit inside their quiet hours.
    if m.morning is not None:
        yield _Candidate("morning_briefing", day_key(m.member_id, "morning_briefing", day),
                         _voice_or_sms(m), _combine(day, m.morning, m.tz), day,
                         exempt_quiet=True)
    if m.evening is not None:
        yield _Candidate("evening_reflection", day_key(m.member_id, "evening_reflection", day),
                         _voice_or_sms(m), _combine(day, m.evening, m.tz), day,
                         exempt_quiet=True)
    for h in m.habits:
        at = _combine(day, h.reminder, m.tz)
        if _habit_day(m, at) not in h.due_days:
            continue
        if h.created_at > at:
            continue  # the habit did not exist yet when this reminder was due
        yield _Candidate("habit_reminder", habit_key(m.member_id, h.id, day), "sms", at, day,
                         ref=h.id)


def _habit_day(m: MemberState, at: datetime) -> date:
    """The member's day a reminder belongs to: one at 01:00 is still the evening before."""
    return _day_of(at, m.tz, m.day_start)


def _task_candidates(
    m: MemberState, rules: Rules, sent: Mapping[str, Sent]
) -> Iterable[_Candidate]:
    for t in m.tasks:
        if not t.critical:
            # Inside quiet hours the alert waits for them to end, if that is still before due.
            alert = _after_quiet(m, t.due_at - rules.deadline_lead)
            if alert >= t.due_at:
                alert = t.due_at - rules.deadline_lead
            if t.created_at > alert:
                continue  # set up inside its own lead time: the member knows, no alert
            yield _Candidate("deadline", deadline_key(m.member_id, t.id, t.due_at), "sms", alert,
                             local_now(alert, m.tz).date(), ref=t.id)
            continue
        # A critical item escalates: SMS, then a call, then the backup member, each only when
        # the previous step went out and nothing came back from the member since. It was marked
        # critical by the member, so quiet hours do not hold it back.
        alert = t.due_at - rules.deadline_lead
        if t.created_at > alert:
            alert = t.due_at
            if t.created_at > alert:
                continue
        first = critical_key(m.member_id, t.id, t.due_at, 1)
        yield _Candidate("critical", first, "sms", alert, local_now(alert, m.tz).date(),
                         ref=t.id, step=1, exempt_quiet=True)
        previous = sent.get(first)
        steps: tuple[tuple[int, Channel], ...] = ((2, "call"), (3, "sms"))
        for step, channel in steps:
            if previous is None or previous.status not in ESCALATES:
                break
            if m.last_inbound_at is not None and m.last_inbound_at >= previous.at:
                break
            key = critical_key(m.member_id, t.id, t.due_at, step)
            at = previous.at + rules.escalate_after
            yield _Candidate("critical", key, channel, at, local_now(at, m.tz).date(), ref=t.id,
                             step=step, exempt_quiet=True)
            previous = sent.get(key)


def _overdue_since(m: MemberState, rules: Rules) -> list[tuple[datetime, tuple[str, int]]]:
    items = [(t.due_at + rules.overdue_grace, ("task", t.id)) for t in m.tasks]
    items += [(c.overdue_at + rules.overdue_grace, ("chore", c.id)) for c in m.chores]
    return sorted(items)


def _after_quiet(m: MemberState, at: datetime) -> datetime:
    """`at`, or the end of the quiet hours it falls in."""
    local = local_now(at, m.tz)
    if not m.quiet.contains(local.time()):
        return at
    end_day = local.date()
    if m.quiet.start > m.quiet.end and local.time() >= m.quiet.start:
        end_day += timedelta(days=1)
    return _combine(end_day, m.quiet.end, m.tz)


def _digest_candidate(m: MemberState, day: date, rules: Rules) -> _Candidate | None:
    """At most one grouped overdue nudge a day: soon after something goes overdue, else at the
    daily digest time for what has been overdue since before the day began."""
    if not m.tasks and not m.chores:
        return None
    start = _combine(day, time(0), m.tz)
    end = _combine(day + timedelta(days=1), time(0), m.tz)
    pending = [(at, ref) for at, ref in _overdue_since(m, rules) if at < end]
    if not pending:
        return None
    fresh = [at for at, _ in pending if at >= start]
    moments = [min(fresh)] if fresh else []
    if any(at < start for at, _ in pending):
        moments.append(_combine(day, rules.overdue_time, m.tz))
    at = _after_quiet(m, min(moments))
    if local_now(at, m.tz).date() != day:
        return None  # pushed past midnight by quiet hours: the next day's digest has it
    items = tuple(ref for due, ref in pending if due <= at)
    return _Candidate("overdue_digest", day_key(m.member_id, "overdue_digest", day), "sms", at,
                      day, items=items)


def _candidates(
    m: MemberState, days: Iterable[date], rules: Rules, sent: Mapping[str, Sent]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for day in days:
        out.extend(_day_candidates(m, day))
        digest = _digest_candidate(m, day, rules)
        if digest is not None:
            out.append(digest)
    out.extend(_task_candidates(m, rules, sent))
    out.sort(key=lambda c: (c.due_at, c.key))
    return out


# -- the plan ------------------------------------------------------------------------------------


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _travel_catchup(m: MemberState, c: _Candidate, now: datetime) -> bool:
    """After a timezone change, today's briefing (in the new zone) that neither zone sent goes
    out on arrival, late, unless the rest of that day is quiet: a flight east skips no briefing.
    (The key holds the local date, so a flight west cannot bring a second one.)"""
    local = local_now(now, m.tz)
    if c.kind != "morning_briefing" or c.local_date != local.date():
        return False
    return not m.quiet.contains(local.time())


def _decide(
    m: MemberState, c: _Candidate, now: datetime, rules: Rules, catchup: bool
) -> tuple[Action, str | None]:
    late = now - c.due_at
    if late > rules.catchup and not catchup:
        return "skip", f"missed by {int(late.total_seconds() // 60)} min"
    if m.opted_out:
        return "suppress", "sms opt-out"
    # Judged at the moment it goes out: now, or its own moment when it is decided ahead.
    if not c.exempt_quiet and m.quiet.contains(local_now(max(now, c.due_at), m.tz).time()):
        return "suppress", "quiet hours"
    if c.kind == "habit_reminder":
        habit = next(h for h in m.habits if h.id == c.ref)
        if _habit_day(m, c.due_at) in habit.logged_days:
            return "suppress", "already logged"
    if catchup:
        return "send", "timezone change"
    return "send", None


def plan(
    m: MemberState,
    now: datetime,
    *,
    since: datetime | None,
    previous_tz: str | None = None,
    rules: Rules | None = None,
) -> Plan:
    """The nudges due for `m` at `now`, and when to look at the member next.

    `since` is when the member was last planned (None: never): what fell due before it was
    dealt with then. A nudge due in (since, now] goes out when it is less than `rules.catchup`
    late, and is skipped (and logged) when older. `previous_tz` is the zone in force at `since`.
    A nudge due within the member's `lead` is decided now and scheduled for its moment; the
    member is looked at next that long before the next nudge's moment.
    """
    rules = rules or Rules()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not m.has_phone:
        return Plan((), now + rules.horizon)  # nothing can reach them; look again tomorrow
    floor = now if since is None else max(since, now - rules.lookback)
    today = local_now(now, m.tz).date()
    # Anything on an earlier date fell due before `floor`; anything after tomorrow lies past
    # the horizon.
    days = _days(min(local_now(floor, m.tz).date(), today), today + timedelta(days=1))
    moved = previous_tz is not None and previous_tz != m.tz
    sent = dict(m.sent)
    nudges: list[Due] = []
    ahead = lead(m.member_id, rules)

    def early(c: _Candidate) -> timedelta:
        # A later escalation step depends on the member not answering until its very moment.
        return ahead if c.step <= 1 else timedelta(0)

    candidates = _candidates(m, days, rules, sent)
    for c in candidates:
        prior = sent.get(c.key)
        retry = prior is not None and prior.status == RETRY
        if (prior is not None and not retry) or c.due_at > now + early(c):
            continue
        catchup = moved and _travel_catchup(m, c, now)
        if c.due_at <= floor and not (catchup or retry):
            continue
        action, reason = _decide(m, c, now, rules, catchup)
        if action == "send" and c.due_at > now:
            action = "schedule"
        nudges.append(Due(c.kind, c.key, c.channel, c.due_at, action, c.local_date, c.ref,
                          c.step, reason, c.items, retry))
        sent[c.key] = Sent(STATUS[action], max(now, c.due_at))
    upcoming = [c for c in candidates if c.key not in sent and c.due_at > now + early(c)]
    if any(n.kind == "critical" for n in nudges):
        # What was just claimed can unlock the next step (a call after its SMS).
        upcoming += [c for c in _task_candidates(m, rules, sent)
                     if c.key not in sent and c.due_at > now + early(c)]
    horizon = now + rules.horizon
    return Plan(tuple(nudges), min([*(c.due_at - early(c) for c in upcoming), horizon]))

