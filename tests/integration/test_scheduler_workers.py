"""On PostgreSQL, three real `luna worker` processes live through simulated time for a
population across nine timezones: every owed nudge is decided exactly once (one row per key),
sent when it should be, never in quiet hours, never to an opted-out member, one outbox message
per sent nudge.

The test keeps to 1,000 members and 12 simulated hours so that it stays under a minute on a
small machine; `bench/scheduler.py --workers` runs the full acceptance day (10,000 members,
24 hours, three workers) with the same checks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from luna.db.engine import Database
from luna.testing import scheduler_sim as sim

START = datetime(2026, 3, 4, 4, tzinfo=UTC)
MEMBERS = 1_000
HOURS = 12  # 04:00-16:00 UTC: night, morning or evening somewhere in each of the nine zones
WORKERS = 3


@pytest.fixture
def pg(database: Database) -> Database:
    if database.dialect != "postgresql":
        pytest.skip("procrastinate workers run on PostgreSQL only")
    return database


async def test_three_workers_send_every_due_nudge_exactly_once(
    pg: Database, tmp_path: Path
) -> None:
    pop = await sim.populate(pg, MEMBERS, start=START, hours=HOURS)
    await sim.reset_jobs(pg.url)
    procs = sim.start_workers(pg.url, WORKERS, log_dir=tmp_path)
    try:
        await sim.drive(pg.url, sim.ticks(START, pop.end, timedelta(minutes=15)),
                        procs=procs, timeout_s=300)
    finally:
        sim.stop_workers(procs)
    verdict = await sim.verify(pg, pop)
    assert verdict.problems == [], sim.worker_logs(tmp_path)
    assert verdict.nudges == len(pop.expected)
    assert verdict.sent == verdict.messages == sum(e.send for e in pop.expected.values())
    kinds = {e.kind for e in pop.expected.values()}
    assert kinds == {"morning_briefing", "evening_reflection", "habit_reminder", "deadline",
                     "overdue_digest"}
    assert any(not e.send and e.member_id not in pop.opted_out
               for e in pop.expected.values())  # reminders that fall in quiet hours
    assert verdict.sent > MEMBERS


async def test_a_tick_run_twice_by_two_workers_sends_nothing_twice(
    pg: Database, tmp_path: Path
) -> None:
    pop = await sim.populate(pg, 200, start=START, hours=4)
    await sim.reset_jobs(pg.url)
    procs = sim.start_workers(pg.url, 2, log_dir=tmp_path)
    try:
        instants = sim.ticks(START, pop.end, timedelta(minutes=15))
        # Every tick twice over, as a retried or duplicated periodic job would.
        await sim.drive(pg.url, [t for t in instants for _ in (0, 1)], procs=procs,
                        timeout_s=120)
    finally:
        sim.stop_workers(procs)
    verdict = await sim.verify(pg, pop)
    assert verdict.problems == []


def test_worker_cron_and_connection_string() -> None:
    from luna.scheduler.workers import conninfo, cron_for

    assert cron_for(15) == "* * * * * */15"
    assert cron_for(60) == "* * * * *"
    assert conninfo("postgresql+asyncpg://u@h:5432/db") == "postgresql://u@h:5432/db"
    with pytest.raises(ValueError):
        conninfo("sqlite+aiosqlite:///x.db")


def test_the_periodic_tick_is_registered_unless_time_is_simulated() -> None:
    from luna.config import SchedulerSettings, load_settings
    from luna.scheduler.workers import PLAN, TICK, WorkerRuntime, build_app

    url = "postgresql://postgres@127.0.0.1:5432/unused"
    for clock, periodic in (("system", True), ("job", False)):
        settings = load_settings(env="test", database_url=url,
                                 scheduler=SchedulerSettings(clock=clock))  # type: ignore[arg-type]
        app = build_app(settings, WorkerRuntime(settings))
        assert {TICK, PLAN} <= set(app.tasks)
        assert bool(app.periodic_registry.periodic_tasks) is periodic


def test_luna_worker_refuses_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from luna.cli import app

    monkeypatch.setenv("LUNA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2 and "needs PostgreSQL" in result.output
    assert "--no-scheduler" in CliRunner().invoke(app, ["serve", "--help"]).output


def test_a_workers_job_connections_follow_its_concurrency() -> None:
    from luna.config import SchedulerSettings, load_settings
    from luna.scheduler.workers import WorkerRuntime, job_pool_size

    url = "postgresql://postgres@127.0.0.1:5432/unused"
    live = load_settings(env="test", database_url=url,
                         scheduler=SchedulerSettings(worker_concurrency=6))
    simulated = load_settings(env="test", database_url=url,
                              scheduler=SchedulerSettings(clock="job", worker_concurrency=6))
    assert job_pool_size(live, WorkerRuntime(live)) == 8  # six jobs, LISTEN, bookkeeping
    assert job_pool_size(simulated, WorkerRuntime(simulated)) == 3  # one job at a time
    assert job_pool_size(live, None) == 1  # only defers
