"""The PostgreSQL scheduler: procrastinate workers (`luna worker`), any number of them.

A periodic job (every `tick_s` seconds, de-duplicated by procrastinate across workers) counts
the members due and fans out one `plan` job per batch so that every worker takes a share; each
job runs `Scheduler.tick`, which locks its due rows with SKIP LOCKED and claims every nudge key
before sending. Two workers can therefore never send the same nudge, whatever runs twice.

With LUNA_SCHEDULER_CLOCK=job no periodic job is registered and every job runs at the instant it
carries: a test or a bench defers ticks for a simulated day and the workers live through it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import procrastinate
import psycopg
import structlog
from procrastinate.schema import SchemaManager

from luna.clock import Clock, SystemClock
from luna.config import Settings
from luna.db.engine import Database
from luna.scheduler.runner import Scheduler
from luna.services.container import Services

log = structlog.get_logger(__name__)

QUEUE = "luna-scheduler"
TICK = "luna.scheduler.tick"
PLAN = "luna.scheduler.plan"
MAX_FANOUT = 16
FANOUT_BATCH = 50
SCHEMA_LOCK = 7_420_001
"""pg_advisory_lock key: workers starting together apply procrastinate's schema only once."""


def conninfo(database_url: str) -> str:
    """The libpq URL for psycopg (procrastinate's driver) from Luna's SQLAlchemy URL."""
    if "://" not in database_url or not database_url.startswith("postgres"):
        raise ValueError("procrastinate workers need a PostgreSQL database_url")
    return "postgresql://" + database_url.split("://", 1)[1]


class JobClock:
    """Now is the instant of the job being run (LUNA_SCHEDULER_CLOCK=job)."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def set(self, at: datetime) -> None:
        self._now = at

    def now(self) -> datetime:
        return self._now


def cron_for(tick_s: float) -> str:
    """procrastinate cron with its optional 6th column (seconds)."""
    step = int(tick_s)
    if step >= 60:
        return "* * * * *"
    return f"* * * * * */{max(1, step)}"


class WorkerRuntime:
    """What one worker process holds: its database, services and scheduler."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.simulated = settings.scheduler.clock == "job"
        # Simulated time is one instant per job, so a simulated worker runs one job at a time.
        self.jobs = 1 if self.simulated else settings.scheduler.worker_concurrency
        """Jobs this worker runs at once (`luna worker --concurrency` may change it)."""
        self.job_clock = JobClock()
        clock: Clock = self.job_clock if self.simulated else SystemClock()
        self.db = Database.from_settings(settings)
        self.services = Services.build(self.db, clock, default_region=settings.default_region,
                                       settings=settings)
        self.scheduler = Scheduler(self.services, settings)

    def now_for(self, timestamp: int | float) -> datetime | None:
        """The instant a job runs at: its own when simulated, else None (the clock, read
        afresh for each batch)."""
        if not self.simulated:
            return None
        at = datetime.fromtimestamp(timestamp, UTC)
        self.job_clock.set(at)
        return at

    async def aclose(self) -> None:
        await self.scheduler.aclose()
        await self.db.dispose()


def job_pool_size(settings: Settings, runtime: WorkerRuntime | None) -> int:
    """procrastinate's connections for one process: a worker needs one per job it runs at once
    (fetching, deferring and finishing it), its LISTEN connection and one for its own
    bookkeeping (heartbeat, periodic defers); a process that only defers jobs needs one.
    Workers hold their pools open, so several of them, with the app, must fit in a small
    PostgreSQL (100 connections by default)."""
    if runtime is None:
        return 1
    return runtime.jobs + 2


def max_connections(settings: Settings, runtime: WorkerRuntime) -> int:
    """The most PostgreSQL connections one worker process opens: Luna's own pool (the
    `db_pool_size` / `db_max_overflow` settings, as for the app) and procrastinate's."""
    return settings.db_pool_size + settings.db_max_overflow + job_pool_size(settings, runtime)


def build_app(settings: Settings, runtime: WorkerRuntime | None = None) -> procrastinate.App:
    """The procrastinate app; with a `runtime`, its tasks run the scheduler (a worker), without
    one it can only defer jobs (tests, benches)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(settings.database_url), min_size=1,
            max_size=job_pool_size(settings, runtime),
        ),
    )

    @app.task(name=TICK, queue=QUEUE)
    async def tick(timestamp: int) -> dict[str, Any]:
        assert runtime is not None, "a deferring-only app cannot run jobs"
        now = runtime.now_for(timestamp)
        due = await runtime.scheduler.store.due_count(now or runtime.services.clock.now())
        # Spread a busy minute over the workers: each helper takes small batches, so that
        # whichever workers pick the jobs up share the members between them (SKIP LOCKED).
        batch = min(runtime.scheduler.batch_size, FANOUT_BATCH)
        helpers = min(MAX_FANOUT, math.ceil(due / batch)) - 1
        for _ in range(max(0, helpers)):
            await plan.defer_async(timestamp=timestamp)
        stats = await runtime.scheduler.tick(now, batch_size=batch)
        await runtime.scheduler.housekeeping(now)
        return {"due": due, "members": stats.members, "sent": stats.outcomes.get("sent", 0)}

    @app.task(name=PLAN, queue=QUEUE)
    async def plan(timestamp: int) -> dict[str, Any]:
        assert runtime is not None, "a deferring-only app cannot run jobs"
        batch = min(runtime.scheduler.batch_size, FANOUT_BATCH)
        now = runtime.now_for(timestamp)
        stats = await runtime.scheduler.tick(now, batch_size=batch)
        await runtime.scheduler.housekeeping(now)
        return {"members": stats.members, "sent": stats.outcomes.get("sent", 0)}

    if runtime is not None and not runtime.simulated:
        app.periodic(cron=cron_for(settings.scheduler.tick_s), periodic_id="luna")(tick)
    return app


async def ensure_schema(settings: Settings) -> None:
    """procrastinate's tables, once, even when several workers start at the same moment."""
    async with await psycopg.AsyncConnection.connect(
        conninfo(settings.database_url), autocommit=True
    ) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cur.fetchone()
            if not (row and row[0]):
                await conn.execute(SchemaManager.get_schema().encode())
                log.info("procrastinate_schema_applied")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


async def run_worker(settings: Settings, *, concurrency: int | None = None,
                     name: str | None = None) -> None:
    """`luna worker`: until SIGINT / SIGTERM."""
    await ensure_schema(settings)
    runtime = WorkerRuntime(settings)
    if concurrency and not runtime.simulated:
        runtime.jobs = concurrency
    n = runtime.jobs
    app = build_app(settings, runtime)
    try:
        await runtime.scheduler.store.ensure_rows()
        async with app.open_async():
            log.info("worker_started", concurrency=n, simulated=runtime.simulated,
                     max_connections=max_connections(settings, runtime))
            await app.run_worker_async(queues=[QUEUE], concurrency=n, name=name or "luna",
                                       delete_jobs="successful")
    finally:
        await runtime.aclose()
