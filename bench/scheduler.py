"""Scheduler planning per tick at 100,000 members, and nudges dispatched per second.

    .venv/bin/python bench/scheduler.py [--members 100000] [--hours 24] [--step-s 15]
                                        [--dispatch 2000] [--workers] [--worker-members 10000]

Planning: the population (nine timezones, check-ins, habits, tasks; see
luna.testing.scheduler_sim) lives through `--hours` of simulated time, one tick every `--step-s`
seconds (default: the scheduler's own interval, LUNA_SCHEDULER_TICK_S, as `luna serve` and the
workers tick; a longer step piles more members into each tick than production ever sees); each
tick selects the members due (index range), loads them, plans them and claims
their nudge keys. Sending is measured separately: `--dispatch` claimed nudges rendered and sent
through the outbox (the real OutboundSms with the outbox sender).

SQLite always (a temp file); PostgreSQL too when LUNA_BENCH_DATABASE_URL is set (its tables are
dropped and recreated). `--workers` (PostgreSQL only) runs the acceptance day: three
`luna worker` processes, `--worker-members` members, every nudge checked exactly once.
Members are planned a few minutes ahead of their nudges (LUNA_SCHEDULER_PLAN_AHEAD_MIN), which
wait as "scheduled" and are released at their moment, a batch at a time before each batch is
sent: the table shows planning per tick and the slowest release of one batch ("release max").
Target: ≤ 250 ms per tick on both databases (the table at the end: mean, p50, p95, p99 and max
ms per tick, and nudges dispatched per second).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import func, select

from luna.config import load_settings
from luna.db.engine import Database
from luna.db.models import Base, Nudge
from luna.scheduler.runner import Scheduler
from luna.scheduler.store import Claimed
from luna.services.container import Services
from luna.testing import scheduler_sim as sim
from luna.testing.clock import FrozenClock

START = datetime(2026, 3, 4, 4, tzinfo=UTC)


async def fresh(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    return db


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Row:
    name: str
    members: int
    ticks: list[float] = field(default_factory=list)
    """Planning ms per tick (the first, which plans everyone once, left out)."""
    release_ms: list[float] = field(default_factory=list)
    """Releasing ms per batch of scheduled nudges."""
    released: list[int] = field(default_factory=list)
    dispatch_per_s: float = 0.0


async def bench_planning(name: str, url: str, args: argparse.Namespace) -> Row:
    db = await fresh(url)
    t0 = time.perf_counter()
    pop = await sim.populate(db, args.members, start=START, hours=args.hours)
    made = time.perf_counter() - t0
    owed = len(pop.expected)
    del pop
    # The population's own bookkeeping is not the scheduler's heap: keep it (and whatever the
    # bulk insert left) out of the full collections that would otherwise land inside ticks.
    gc.collect()
    gc.freeze()
    clock = FrozenClock(START)
    settings = load_settings(env="test", database_url=url)
    scheduler = Scheduler(Services.build(db, clock, settings=settings), settings)
    store = scheduler.store
    batch = settings.scheduler.batch_size

    gc_ms = [0.0]
    gc_started = [0.0]

    def gc_timer(phase: str, _info: dict[str, int]) -> None:
        # Garbage collections inside a tick are the process's, not the database's: the worst
        # tick's line says how much of it they were.
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_ms[0] += (time.perf_counter() - gc_started[0]) * 1000

    gc.callbacks.append(gc_timer)

    async def plan_tick(at: datetime) -> tuple[float, int, int]:
        gc_ms[0] = 0.0
        started = time.perf_counter()
        members = decided = 0
        while True:
            r = await store.plan_batch(at, batch)
            members += r.members
            decided += r.decided
            if r.members < batch:
                break
        return (time.perf_counter() - started) * 1000, members, decided

    async def release_tick(at: datetime) -> int:
        """The nudges planned ahead whose moment has come, claimed for sending a batch at a
        time, as the tick does before sending each batch (not sent here: sending is measured
        apart). Timed per batch: a busy minute releases thousands, but between batches the
        tick sends, for far longer than a batch takes to release."""
        n = 0
        while True:
            started = time.perf_counter()
            got = len(await store.release(at, batch))
            if got:
                row.release_ms.append((time.perf_counter() - started) * 1000)
            n += got
            if got < batch:
                return n

    first_ms, first_members, first_decided = await plan_tick(START)  # everyone is new
    row = Row(name, args.members)
    per_tick = row.ticks
    busy: list[float] = []
    members_per_tick: list[int] = []
    gc_per_tick: list[float] = []
    wall_at: list[datetime] = []
    sim_at: list[datetime] = []
    housekeeping: list[float] = []
    total_decided = first_decided
    step = timedelta(seconds=args.step_s)
    at = START + step
    while at <= pop_end(args):
        ms, members, decided = await plan_tick(at)
        gc_per_tick.append(gc_ms[0])
        wall_at.append(datetime.now(UTC))
        sim_at.append(at)
        row.released.append(await release_tick(at))
        per_tick.append(ms)
        members_per_tick.append(members)
        total_decided += decided
        if members:
            busy.append(ms / members)
        # What a tick does after sending (pruning, vacuuming the schedule rows on PostgreSQL),
        # timed apart from planning.
        started = time.perf_counter()
        await scheduler.housekeeping(at)
        housekeeping.append((time.perf_counter() - started) * 1000)
        at += step
    print(f"\n{name}: {args.members:,} members (populated in {made:.1f} s), "
          f"{len(per_tick)} ticks of {args.step_s:g} s over {args.hours:g} h")
    print(f"  first tick (plans every member once): {first_ms:,.0f} ms for "
          f"{first_members:,} members ({first_ms * 1000 / max(first_members, 1):.0f} µs each)")
    print(f"{'  members due per tick':<34}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>10}{'mean':>9}")
    print(f"{'':<34}{pct(members_per_tick, .5):>9.0f}{pct(members_per_tick, .95):>9.0f}"
          f"{pct(members_per_tick, .99):>9.0f}{max(members_per_tick):>10.0f}"
          f"{statistics.fmean(members_per_tick):>9.1f}")
    idle = [ms for ms, n in zip(per_tick, members_per_tick, strict=True) if n == 0]
    if idle:
        print(f"  idle ticks: {len(idle)}, p50 {pct(idle, .5):.1f} ms (nothing due: index only)")
    if busy:
        print(f"  per member due: p50 {pct(busy, .5) * 1000:.0f} µs")
    worst = max(range(len(per_tick)), key=per_tick.__getitem__)
    print(f"  worst tick {per_tick[worst]:,.0f} ms with {members_per_tick[worst]:,} due "
          f"(garbage collection {gc_per_tick[worst]:.0f} ms of it; the housekeeping before it "
          f"took {housekeeping[worst - 1] if worst else 0:.0f} ms; it ended at "
          f"{wall_at[worst]:%H:%M:%S} UTC, to compare with the database server's log)")
    slowest = sorted(range(len(per_tick)), key=per_tick.__getitem__)[-3:][::-1]
    print("  slowest ticks (simulated UTC time, ms, members due): " + ", ".join(
        f"{sim_at[i]:%H:%M:%S} {per_tick[i]:.0f} ms {members_per_tick[i]}" for i in slowest))
    over = [n for ms, n in zip(per_tick, members_per_tick, strict=True) if ms > 250]
    if over:
        print(f"  ticks over 250 ms: {len(over)}, with {min(over):,} to {max(over):,} members due")
    heavy = [(h, i) for i, h in enumerate(housekeeping) if h > 5]
    print(f"  housekeeping after ticks (not in planning): {len(heavy)} runs over 5 ms, "
          f"max {max(housekeeping):.0f} ms, total {sum(housekeeping) / 1000:.1f} s")
    print(f"  nudges decided: {total_decided:,} (owed in the window: {owed:,}, and the ones "
          f"due in the plan-ahead time after it are decided too); planned ahead and released "
          f"at their moment: {sum(row.released):,}")
    if row.release_ms:
        print(f"  releasing, per batch of up to {batch}: p50 {pct(row.release_ms, .5):.1f} ms, "
              f"p99 {pct(row.release_ms, .99):.1f} ms, max {max(row.release_ms):.1f} ms; "
              f"at most {max(row.released):,} released in one tick "
              f"({sum(row.release_ms) * 1000 / max(sum(row.released), 1):.0f} µs each)")
    gc.callbacks.remove(gc_timer)
    row.dispatch_per_s = await bench_dispatch(scheduler, db, args.dispatch)
    await scheduler.aclose()
    await db.dispose()
    gc.unfreeze()
    return row


def pop_end(args: argparse.Namespace) -> datetime:
    return START + timedelta(hours=args.hours)


def table(rows: list[Row]) -> None:
    print(f"\n{'N':>9}  {'DB':<11}{'mean':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}"
          f"{'release max':>13}{'dispatch/s':>12}   planning ms per tick; target <= 250")
    for r in rows:
        t = r.ticks
        verdict = "OK" if max(t) <= 250 else "over"
        print(f"{r.members:>9,}  {r.name:<11}{statistics.fmean(t):>8.1f}{pct(t, .5):>8.1f}"
              f"{pct(t, .95):>8.1f}{pct(t, .99):>8.1f}{max(t):>9.1f}"
              f"{max(r.release_ms, default=0):>13.1f}{r.dispatch_per_s:>12,.0f}   max {verdict}")


async def bench_dispatch(scheduler: Scheduler, db: Database, n: int) -> float:
    """Send `n` claimed nudges through the outbox, as the tick would after planning."""
    async with db.read() as s:
        rows = list(await s.scalars(
            # A sample of what a day sends: briefings, reflections, reminders, alerts, digests.
            select(Nudge).where(Nudge.status == "pending").order_by(func.random()).limit(n)
        ))
    claimed = [Claimed(r.id, r.key, r.household_id, r.member_id, r.kind,  # type: ignore[arg-type]
                       r.channel, r.due_at, r.local_date, r.ref_id,  # type: ignore[arg-type]
                       int(r.detail.get("step", 0)), (), dict(r.detail)) for r in rows]
    if not claimed:
        print("  dispatch: nothing pending")
        return 0.0
    clock = scheduler.services.clock
    assert isinstance(clock, FrozenClock)
    clock.set(max(c.due_at for c in claimed))
    started = time.perf_counter()
    outcomes = await scheduler.dispatcher.send_all(claimed)
    elapsed = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for c in claimed:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    print(f"  dispatch: {len(claimed):,} nudges in {elapsed:.1f} s = "
          f"{len(claimed) / elapsed:,.0f} nudges/s through the outbox "
          f"({dict(outcomes)}; {kinds})")
    return len(claimed) / elapsed


async def bench_workers(url: str, members: int, workers: int) -> bool:
    """The acceptance day; True when every check holds."""
    db = await fresh(url)
    pop = await sim.populate(db, members, start=START)
    await sim.reset_jobs(url)
    logs = Path(tempfile.mkdtemp(prefix="luna-bench-workers-"))
    procs = sim.start_workers(url, workers, log_dir=logs)
    try:
        stats = await sim.drive(url, sim.ticks(START, pop.end, timedelta(minutes=15)),
                                procs=procs, timeout_s=3600)
    finally:
        sim.stop_workers(procs)
    verdict = await sim.verify(db, pop)
    await db.dispose()
    print(f"\nPostgreSQL, {workers} `luna worker` processes, {members:,} members, 24 h "
          f"simulated in {stats.ticks} ticks: {stats.wall_s:.1f} s wall")
    print(f"  nudges: {verdict.nudges:,} decided (owed {len(pop.expected):,}), "
          f"{verdict.sent:,} sent, {verdict.messages:,} outbox messages, "
          f"{verdict.sent / stats.wall_s:,.0f} sent/s")
    print(f"  exactly once, none in quiet hours, none to opted-out members: "
          f"{'OK' if not verdict.problems else verdict.problems[:5]}")
    print(f"  worker logs: {logs}")
    return not verdict.problems


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--step-s", type=float, default=None,
                        help="seconds between ticks (default: LUNA_SCHEDULER_TICK_S)")
    parser.add_argument("--dispatch", type=int, default=2000)
    parser.add_argument("--workers", action="store_true",
                        help="also run the 3-worker acceptance day (PostgreSQL)")
    parser.add_argument("--worker-members", type=int, default=10_000)
    parser.add_argument("--skip-planning", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true",
                        help="plan on PostgreSQL only (LUNA_BENCH_DATABASE_URL)")
    args = parser.parse_args()
    if args.step_s is None:
        args.step_s = load_settings().scheduler.tick_s
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    pg = os.environ.get("LUNA_BENCH_DATABASE_URL")
    pg_url = load_settings(database_url=pg).database_url if pg else None
    if not args.skip_planning:
        rows: list[Row] = []
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(await bench_planning(
                    "SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args))
        if pg_url:
            rows.append(await bench_planning("PostgreSQL", pg_url, args))
        else:
            print("\n(PostgreSQL skipped: set LUNA_BENCH_DATABASE_URL)", file=sys.stderr)
        table(rows)
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.workers:
        if not pg_url:
            print("--workers needs LUNA_BENCH_DATABASE_URL", file=sys.stderr)
            return 2
        if not await bench_workers(pg_url, args.worker_members, 3):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
