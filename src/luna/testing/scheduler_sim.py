"""A simulated population for the scheduler: many members across timezones, inserted in bulk,
what each of them is owed over a window of simulated time, and a driver that lives through the
window tick by tick - in this process, or with `luna worker` processes doing the work.

Used by tests/integration/test_scheduler_workers.py and bench/scheduler.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time as wallclock
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from luna.db.engine import Database
from luna.db.models import (
    Habit,
    HabitLog,
    Household,
    Member,
    MemberSchedule,
    Message,
    Nudge,
    Task,
)
from luna.domain.localday import combine_local, local_date, local_now
from luna.scheduler.due import Quiet, day_key, deadline_key, habit_key
from luna.services.members import Preferences

ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "Europe/London", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney",
)
MORNINGS = ("06:30", "07:00", "07:00", "07:30", "08:00")
EVENINGS = ("20:00", "21:00", "21:00", "21:15")
HABIT_TIMES = ("07:45", "12:00", "18:30", "22:15")  # 22:15 falls in the default quiet hours
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
GRACE = timedelta(minutes=15)
LEAD = timedelta(hours=1)
QUIET = Quiet()
EXEMPT = frozenset({"morning_briefing", "evening_reflection", "critical"})


@dataclass(frozen=True, slots=True)
class Expected:
    member_id: int
    kind: str
    due_at: datetime
    send: bool


@dataclass
class Population:
    start: datetime
    end: datetime
    members: dict[int, str] = field(default_factory=dict)
    """member id → timezone"""
    opted_out: set[int] = field(default_factory=set)
    expected: dict[str, Expected] = field(default_factory=dict)


def _t(text_: str) -> time:
    h, m = text_.split(":")
    return time(int(h), int(m))


def _once_in(start: datetime, end: datetime, at: time, tz: str) -> tuple[date, datetime] | None:
    """The occurrence of wall time `at` in (start, end], if there is exactly one day for it."""
    first = local_now(start, tz).date() - timedelta(days=1)
    for i in range(4):
        day = first + timedelta(days=i)
        instant = combine_local(day, at, tz)
        if start < instant <= end:
            return day, instant
    return None


async def populate(
    db: Database, n: int, *, start: datetime, hours: float = 24, seed: int = 7,
    opt_out_share: float = 0.1, voice_share: float = 0.1, habit_share: float = 0.5,
    task_share: float = 0.3,
) -> Population:
    """`n` members (four to a household) with check-ins, habits and tasks, inserted in bulk,
    and the nudges each is owed in (start, start + hours]. Ids continue from what exists."""
    rng = random.Random(seed)
    end = start + timedelta(hours=hours)
    pop = Population(start, end)
    async with db.transaction() as s:
        base_member = int(await s.scalar(select(func.coalesce(func.max(Member.id), 0))) or 0)
        base_household = int(await s.scalar(select(func.coalesce(func.max(Household.id), 0)))
                             or 0)
        base_habit = int(await s.scalar(select(func.coalesce(func.max(Habit.id), 0))) or 0)
        base_task = int(await s.scalar(select(func.coalesce(func.max(Task.id), 0))) or 0)
    households: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    habits: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        mid = base_member + i + 1
        hid = base_household + i // 4 + 1
        tz = ZONES[i % len(ZONES)]
        if i % 4 == 0:
            households.append({"id": hid, "name": f"H{hid}", "timezone": tz, "settings": {},
                               "created_at": LONG_AGO})
        morning, evening = rng.choice(MORNINGS), rng.choice(EVENINGS)
        voice = rng.random() < voice_share
        out = rng.random() < opt_out_share
        prefs = Preferences(morning_checkin=morning, evening_checkin=evening,
                            prefer_voice=voice).model_dump()
        members.append({
            "id": mid, "household_id": hid, "name": f"Member {mid}", "nicknames": [],
            "phone": f"+1555{mid:07d}", "email": None, "timezone": tz, "role": "adult",
            "onboarded": True, "preferences": prefs, "ai_context": {}, "sms_opt_out": out,
            "created_at": LONG_AGO,
        })
        pop.members[mid] = tz
        if out:
            pop.opted_out.add(mid)

        def owe(key: str, kind: str, at: datetime, send: bool, mid: int = mid) -> None:
            pop.expected[key] = Expected(mid, kind, at, send and mid not in pop.opted_out)

        for kind, wall in (("morning_briefing", morning), ("evening_reflection", evening)):
            hit = _once_in(start, end, _t(wall), tz)
            if hit:
                owe(day_key(mid, kind, hit[0]), kind, hit[1], True)  # type: ignore[arg-type]
        if rng.random() < habit_share:
            for wall in rng.sample(HABIT_TIMES, rng.choice((1, 2))):
                base_habit += 1
                habits.append({
                    "id": base_habit, "household_id": hid, "member_id": mid,
                    "name": f"Habit {base_habit}", "category": "health", "frequency": "daily",
                    "times_per_week": None, "weekdays": [], "active": True, "unit": None,
                    "target": None, "target_kind": "at_least", "reminder_time": wall,
                    "pauses": [], "created_at": LONG_AGO,
                })
                hit = _once_in(start, end, _t(wall), tz)
                if not hit:
                    continue
                day, at = hit
                logged = rng.random() < 0.2
                if logged:
                    logs.append({"habit_id": base_habit, "member_id": mid,
                                 "local_date": local_date(at, tz), "value": 1.0,
                                 "skipped": False, "notes": None, "logged_at": LONG_AGO})
                quiet = QUIET.contains(local_now(at, tz).time())
                owe(habit_key(mid, base_habit, day), "habit_reminder", at,
                    not logged and not quiet)
        if rng.random() < task_share:
            day = local_now(start + timedelta(hours=hours / 2), tz).date()
            due = combine_local(day, time(rng.randrange(10, 20), rng.choice((0, 15, 30, 45))),
                                tz)
            if start + timedelta(minutes=10) < due - LEAD and due + GRACE < end:
                base_task += 1
                tasks.append({
                    "id": base_task, "household_id": hid, "member_id": mid,
                    "title": f"Task {base_task}", "notes": None, "priority": "medium",
                    "category": "other", "status": "pending", "due_at": due,
                    "completed_at": None, "source_channel": "api", "critical": False,
                    "created_at": LONG_AGO, "updated_at": LONG_AGO,
                })
                owe(deadline_key(mid, base_task, due), "deadline", due - LEAD, True)
                overdue = due + GRACE
                owe(day_key(mid, "overdue_digest", local_now(overdue, tz).date()),
                    "overdue_digest", overdue, True)
    async with db.transaction() as s:
        for model, rows in ((Household, households), (Member, members), (Habit, habits),
                            (HabitLog, logs), (Task, tasks)):
            for chunk in range(0, len(rows), 5000):
                await s.execute(insert(model), rows[chunk:chunk + 5000])
        # Bulk inserts bypass the ORM hook that makes schedule rows: add them, as of `start`.
        await s.execute(insert(MemberSchedule), [
            {"member_id": m["id"], "next_fire_at": start, "planned_through": start,
             "timezone": m["timezone"]} for m in members
        ])
    if db.dialect == "postgresql":
        async with db.engine.begin() as conn:
            for table in ("households", "members", "habits", "habit_logs", "tasks"):
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                ))
            await conn.execute(text("ANALYZE"))
    return pop


@dataclass
class Verdict:
    nudges: int = 0
    sent: int = 0
    messages: int = 0
    problems: list[str] = field(default_factory=list)


async def verify(db: Database, pop: Population) -> Verdict:
    """Every owed nudge decided once, sent when it should be, never in quiet hours, never to
    someone who opted out; one outbox message per sent nudge."""
    v = Verdict()
    async with db.read() as s:
        rows = (await s.execute(
            # Decided ahead for a moment after the window (scheduled to go out, or already
            # suppressed for quiet hours or an opt-out): not part of it.
            select(Nudge.key, Nudge.member_id, Nudge.kind, Nudge.status, Nudge.sent_at)
            .where(Nudge.due_at <= pop.end)
        )).all()
        per_member = Counter(
            mid for mids in (await s.scalars(
                select(Message.to_member_ids).where(Message.kind == "sms",
                                                    Message.status == "outbox")
            )) for mid in (mids or [])
        )
    v.nudges = len(rows)
    v.messages = sum(per_member.values())
    seen = {key for key, *_ in rows}
    missing = set(pop.expected) - seen
    extra = seen - set(pop.expected)
    if missing:
        v.problems.append(f"{len(missing)} owed nudges never decided, e.g. {sorted(missing)[:3]}")
    if extra:
        v.problems.append(f"{len(extra)} unexpected nudges, e.g. {sorted(extra)[:3]}")
    sent_per_member: Counter[int] = Counter()
    for key, mid, kind, status, sent_at in rows:
        want = pop.expected.get(key)
        if status == "sent":
            v.sent += 1
            sent_per_member[mid] += 1
            if mid in pop.opted_out:
                v.problems.append(f"sent to an opted-out member: {key}")
            if sent_at is None:
                v.problems.append(f"sent without a time: {key}")
            elif kind not in EXEMPT and QUIET.contains(local_now(sent_at, pop.members[mid]).time()):
                v.problems.append(f"sent in quiet hours: {key} at {sent_at}")
        if want is not None and want.send != (status == "sent"):
            v.problems.append(f"{key}: {status}, expected {'sent' if want.send else 'not sent'}")
    for mid in set(per_member) | set(sent_per_member):
        if per_member[mid] != sent_per_member[mid]:
            v.problems.append(f"member {mid}: {per_member[mid]} messages for "
                              f"{sent_per_member[mid]} sent nudges")
            break
    return v


# -- living through the window -------------------------------------------------------------------


def ticks(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += step
    return out


PROCRASTINATE_TABLES = ("procrastinate_jobs", "procrastinate_events",
                        "procrastinate_periodic_defers", "procrastinate_workers")


async def reset_jobs(database_url: str) -> None:
    from luna.config import load_settings
    from luna.scheduler.workers import conninfo, ensure_schema

    settings = load_settings(database_url=database_url)
    await ensure_schema(settings)
    import psycopg

    async with await psycopg.AsyncConnection.connect(conninfo(settings.database_url),
                                                     autocommit=True) as conn:
        await conn.execute(f"TRUNCATE {', '.join(PROCRASTINATE_TABLES)} CASCADE".encode())


def start_workers(
    database_url: str, n: int, *, log_dir: Path, extra_env: dict[str, str] | None = None
) -> list[subprocess.Popen[bytes]]:
    """`n` real `luna worker` processes living on the jobs' simulated clock."""
    env = {
        **os.environ, "LUNA_DATABASE_URL": database_url, "LUNA_SCHEDULER_CLOCK": "job",
        "LUNA_ENV": "test", "LUNA_LOG_LEVEL": "WARNING",
        # A shared test server has only so many connections; four sends at a time each is plenty.
        "LUNA_SCHEDULER_SEND_CONCURRENCY": "4", **(extra_env or {}),
    }
    env.pop("OPENAI_API_KEY", None)
    procs = []
    for i in range(n):
        out = (log_dir / f"worker-{i}.log").open("wb")
        procs.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("luna")), "worker", "--name", f"w{i}"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        ))
    return procs


def worker_logs(log_dir: Path, tail: int = 2000) -> str:
    """The end of each worker's log, for a failing test's message."""
    return "\n".join(p.read_text()[-tail:] for p in sorted(log_dir.glob("worker-*.log")))


def stop_workers(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


@dataclass
class DriveStats:
    ticks: int = 0
    wall_s: float = 0.0
    jobs_by_worker: dict[str, int] = field(default_factory=lambda: defaultdict(int))


async def drive(
    database_url: str, instants: Sequence[datetime], *,
    procs: Sequence[subprocess.Popen[bytes]] = (), timeout_s: float = 600,
) -> DriveStats:
    """Defer one tick job per instant and wait for the workers to finish it (and its fan-out)
    before the next, as the periodic job would over a real day."""
    import psycopg

    from luna.config import load_settings
    from luna.scheduler.workers import TICK, build_app, conninfo

    settings = load_settings(database_url=database_url)
    app = build_app(settings)
    stats = DriveStats()
    started = wallclock.perf_counter()
    async with app.open_async(), await psycopg.AsyncConnection.connect(
        conninfo(settings.database_url), autocommit=True
    ) as conn:
        for at in instants:
            await app.configure_task(TICK).defer_async(timestamp=int(at.timestamp()))
            while True:
                cur = await conn.execute(
                    "SELECT status, count(*) FROM procrastinate_jobs GROUP BY status"
                )
                counts: dict[str, int] = dict(await cur.fetchall())
                if counts.get("failed"):
                    raise RuntimeError(f"a scheduler job failed at {at.isoformat()}")
                if not counts.get("todo") and not counts.get("doing"):
                    break
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError("a worker process died")
                if wallclock.perf_counter() - started > timeout_s:
                    raise TimeoutError(f"workers too slow at {at.isoformat()}")
                await asyncio.sleep(0.003)
            stats.ticks += 1
    stats.wall_s = wallclock.perf_counter() - started
    return stats
