"""Tool latency at household scale: p50/p99 per tool, 1,000 members × 50 tasks.

    .venv/bin/python bench/tools.py [--members 1000] [--tasks 50] [--calls 200]

SQLite always (a temp file); PostgreSQL too when LUNA_BENCH_DATABASE_URL is set (its tables are
dropped and recreated). Target: p99 ≤ 10 ms per tool on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from luna.config import load_settings
from luna.db.engine import Database
from luna.db.models import Base, Habit, HabitLog, Member, Task
from luna.services.access import ADMIN, Actor
from luna.services.chores import ScheduleIn
from luna.services.container import Services
from luna.services.when import warm_up
from luna.testing.clock import FrozenClock
from luna.tools import catalog
from luna.tools.context import ToolContext, context_for

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
MEMBERS_PER_HOUSEHOLD = 4
HABITS = ("Journaling", "Squats", "Running")
CHORES = ("Take out the trash", "Do the dishes", "Laundry", "Feed the cat", "Vacuum")


def tool_arguments(rng: random.Random, n: int) -> dict[str, Any]:
    """Arguments for each tool; a call's randomness keeps caches honest."""
    day = (NOW + timedelta(days=rng.randint(1, 20))).date().isoformat()
    return {
        "create_task": {"title": f"Bench task {n}", "due": f"{day}T09:00"},
        "get_tasks": {},
        "complete_task": {"task": f"Task {rng.randint(0, 49)}"},
        "reschedule_task": {"task": f"Task {rng.randint(0, 49)}", "due": f"{day}T10:00"},
        "log_habit": {"habit": rng.choice(HABITS)},
        "get_habit_summary": {"period": "week"},
        "update_daily_metrics": {"mood": rng.randint(1, 10), "energy": rng.randint(1, 10)},
        "create_goal": {"title": f"Goal {n}", "timeframe": "monthly", "category": "health"},
        "update_goal_progress": {"goal": "Run 100 miles", "delta": 1},
        "get_goals": {},
        "update_user_profile": {"interests": [rng.choice(["pottery", "chess", "running"])]},
        "create_chore": {"title": f"Chore {n}", "schedule": "weekly", "weekdays": ["tue"]},
        "get_chores": {},
        "get_overdue_chores": {},
        "complete_chore": {"chore": rng.choice(CHORES)},
        "reschedule_chore": {"chore": rng.choice(CHORES), "day": day},
        "delegate_chore": {"chore": rng.choice(CHORES), "to": "Member 1"},
        "suggest_chores": {},
        "get_schedule": {},
        "add_event": {"title": f"Event {n}", "start": f"{day}T17:00"},
        "send_family_message": {"to": ["Member 1"], "body": "Dinner at 7"},
        "suggest_next_action": {},
        "get_daily_briefing": {},
        "undo_last_action": {},
    }


async def seed(services: Services, members: int, tasks: int) -> list[int]:
    db = services.db
    member_ids: list[int] = []
    households = max(1, members // MEMBERS_PER_HOUSEHOLD)
    for h in range(households):
        created = await services.members.create_household(
            ADMIN, name=f"House {h}", timezone="America/New_York", admin_name="Member 0"
        )
        member_ids.append(created.admin_member_id)
        for i in range(1, MEMBERS_PER_HOUSEHOLD):
            m = await services.members.add_member(
                ADMIN,
                household_id=created.id,
                name=f"Member {i}",
                role="child" if i == 3 else "adult",
            )
            member_ids.append(m.id)
        actor = Actor(household_id=created.id, member_id=created.admin_member_id, role="adult")
        for title in CHORES:
            await services.chores.create(
                actor,
                title=title,
                schedule=ScheduleIn(kind="weekly", weekdays=["mon", "thu"]),
                assignee_id=created.admin_member_id,
            )
        await services.goals.create(
            actor,
            member_id=created.admin_member_id,
            title="Run 100 miles",
            timeframe="monthly",
            category="health",
            unit="miles",
            target_value=100,
        )
    async with db.transaction() as s:
        rows = await s.execute(
            Member.__table__.select().with_only_columns(Member.id, Member.household_id)
        )
        pairs = [(mid, hid) for mid, hid in rows]
        task_rows = [
            {
                "household_id": hid,
                "member_id": mid,
                "title": f"Task {t}",
                "priority": "medium",
                "category": "other",
                "status": "pending",
                "due_at": NOW + timedelta(hours=t - 10),
                "created_at": NOW,
                "updated_at": NOW,
            }
            for mid, hid in pairs
            for t in range(tasks)
        ]
        for i in range(0, len(task_rows), 5000):
            await s.execute(insert(Task), task_rows[i : i + 5000])
        habit_rows = [
            {
                "household_id": hid,
                "member_id": mid,
                "name": name,
                "frequency": "daily",
                "weekdays": [],
                "pauses": [],
                "created_at": NOW - timedelta(days=60),
            }
            for mid, hid in pairs
            for name in HABITS
        ]
        await s.execute(insert(Habit), habit_rows)
    async with db.transaction() as s:
        habits = (
            await s.execute(Habit.__table__.select().with_only_columns(Habit.id, Habit.member_id))
        ).all()
        start = date(2026, 1, 20)
        log_rows = [
            {
                "habit_id": hid,
                "member_id": mid,
                "local_date": start + timedelta(days=d),
                "value": 1.0,
                "skipped": False,
                "logged_at": NOW,
            }
            for hid, mid in habits
            for d in range(0, 42, 1)
            if (hid + d) % 5
        ]
        for i in range(0, len(log_rows), 5000):
            await s.execute(insert(HabitLog), log_rows[i : i + 5000])
    return member_ids


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run_backend(label: str, url: str, members: int, tasks: int, calls: int) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    clock = FrozenClock(NOW)
    services = Services.build(db, clock)
    registry = catalog.load()
    warm_up()
    t0 = time.perf_counter()
    member_ids = await seed(services, members, tasks)
    print(
        f"\n{label}: seeded {len(member_ids)} members × {tasks} tasks "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    # The server freezes its start-up heap (LocalBrain.warm_up) so full collections stay short.
    gc.collect()
    gc.freeze()
    rng = random.Random(7)
    ctxs: dict[int, ToolContext] = {}
    ctx_ms: list[float] = []
    for mid in rng.sample(member_ids, min(len(member_ids), 300)):
        started = time.perf_counter()
        ctxs[mid] = await context_for(services, ADMIN, mid, channel="bench")
        ctx_ms.append((time.perf_counter() - started) * 1000)
    pool = list(ctxs.values())
    # CPU time beside wall time: on a busy machine the wall clock also counts other processes.
    print(f"{'tool':<24}{'calls':>7}{'ok':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'cpu p50':>9}{'cpu p99':>9}")
    print(
        f"{'(context_for)':<24}{len(ctx_ms):>7}{len(ctx_ms):>6}{statistics.median(ctx_ms):>9.2f}"
        f"{pct(ctx_ms, 0.99):>9.2f}{max(ctx_ms):>9.2f}"
    )
    worst_cpu = 0.0
    worst = 0.0
    for spec in registry:
        # First calls pay one-off costs (dateparser's language data, SQL compilation), as a
        # server does at start; they are not what a member waits for.
        for n in range(3):
            await registry.invoke(
                spec.name, rng.choice(pool), tool_arguments(rng, n).get(spec.name, {})
            )
        samples: list[float] = []
        cpu: list[float] = []
        ok = 0
        for n in range(calls):
            ctx = rng.choice(pool)
            args = tool_arguments(rng, n).get(spec.name, {})
            started, cpu_started = time.perf_counter(), time.thread_time()
            result = await registry.invoke(spec.name, ctx, args)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - cpu_started) * 1000)
            ok += result.ok
        p99 = pct(samples, 0.99)
        worst = max(worst, p99)
        worst_cpu = max(worst_cpu, pct(cpu, 0.99))
        print(
            f"{spec.name:<24}{calls:>7}{ok:>6}{statistics.median(samples):>9.2f}"
            f"{p99:>9.2f}{max(samples):>9.2f}{statistics.median(cpu):>9.2f}{pct(cpu, 0.99):>9.2f}"
        )
    print(f"worst p99: {worst:.2f} ms wall, {worst_cpu:.2f} ms CPU (target ≤ 10 ms on SQLite)")
    await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await run_backend("SQLite", url, args.members, args.tasks, args.calls)
    pg = os.environ.get("LUNA_BENCH_DATABASE_URL")
    if pg:
        await run_backend(
            "PostgreSQL",
            load_settings(database_url=pg).database_url,
            args.members,
            args.tasks,
            args.calls,
        )
    else:
        print("\n(PostgreSQL skipped: set LUNA_BENCH_DATABASE_URL)", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
