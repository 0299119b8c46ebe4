"""Who runs the scheduler. One `Scheduler.tick(now)` plans the members due now, in batches, and
sends what they are owed; it is safe to run from any number of processes at once (the due rows
are locked with SKIP LOCKED on PostgreSQL, and every nudge key is claimed before sending).

- SQLite: `InProcessScheduler`, a loop owned by the app's lifespan (`luna serve`).
- PostgreSQL: procrastinate workers (`luna worker`, see luna.scheduler.workers) run the tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import make_url

from luna.clock import Clock
from luna.config import SchedulerSettings, Settings
from luna.domain.localday import parse_hhmm
from luna.scheduler.content import BriefingWriter, Content
from luna.scheduler.dispatch import CallPort, Dispatcher, SmsPort
from luna.scheduler.due import Rules
from luna.scheduler.store import ScheduleStore
from luna.services.container import Services

log = structlog.get_logger(__name__)

RETENTION = timedelta(days=35)
"""How long decided nudges are kept (history and audit); the planner needs only a few days."""
PRUNE_EVERY = timedelta(hours=1)


def rules_from(s: SchedulerSettings) -> Rules:
    return Rules(
        catchup=timedelta(minutes=s.catchup_min),
        deadline_lead=timedelta(minutes=s.deadline_lead_min),
        escalate_after=timedelta(minutes=s.escalate_after_min),
        overdue_time=parse_hhmm(s.overdue_time),
        plan_ahead=timedelta(minutes=s.plan_ahead_min),
    )


@dataclass
class TickStats:
    members: int = 0
    decided: int = 0
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    plan_s: float = 0.0
    send_s: float = 0.0

    def add(self, other: TickStats) -> None:
        self.members += other.members
        self.decided += other.decided
        self.claimed += other.claimed
        self.outcomes.update(other.outcomes)
        self.plan_s += other.plan_s
        self.send_s += other.send_s


def default_sms(services: Services, settings: Settings) -> SmsPort:
    from luna.outbound.sms import OutboundSms, build_sms_sender

    return OutboundSms(services, build_sms_sender(settings, services), settings)


def default_calls(services: Services, settings: Settings) -> CallPort | None:
    """Real calls need Twilio; without it a call nudge goes out as a text."""
    if not settings.twilio_configured:
        return None
    from luna.voice.calls import CallControl, OutboundCalls

    return OutboundCalls(settings, services, CallControl(settings))


class Scheduler:
    def __init__(
        self,
        services: Services,
        settings: Settings,
        *,
        sms: SmsPort | None = None,
        calls: CallPort | None = None,
        writer: BriefingWriter | None = None,
    ) -> None:
        self.services = services
        self.settings = settings
        cfg = settings.scheduler
        self.batch_size = cfg.batch_size
        self._pruned_at: datetime | None = None
        self.store = ScheduleStore(services.db, rules_from(cfg))
        if writer is None and cfg.llm_briefings and settings.llm_configured:
            from luna.scheduler.llm_writer import LlmBriefingWriter

            writer = LlmBriefingWriter.from_settings(settings)
        self.content = Content(services, self.store, writer, cfg.llm_monthly_cap_usd)
        self._owns_sms = sms is None
        self.dispatcher = Dispatcher(
            services, self.store, self.content,
            sms if sms is not None else default_sms(services, settings),
            calls if calls is not None else default_calls(services, settings),
            concurrency=cfg.send_concurrency,
        )

    @property
    def clock(self) -> Clock:
        return self.services.clock

    async def tick(
        self, now: datetime | None = None, *, batch_size: int | None = None,
        max_batches: int | None = None,
    ) -> TickStats:
        """Plan and send everything due, batch by batch, until nothing due is left (or what
        is left is locked by another worker): the members due for planning, and the nudges
        scheduled earlier whose moment has come. Without `now`, each batch reads the clock: a
        busy minute can take a while to send, and quiet hours are judged when a batch is
        planned."""
        size = batch_size or self.batch_size
        total = TickStats()
        batches = 0
        while max_batches is None or batches < max_batches:
            started = time.perf_counter()
            at = now or self.clock.now()
            result = await self.store.plan_batch(at, size)
            released = await self.store.release(at, size)
            claimed = [*result.claimed, *released]
            planned = time.perf_counter()
            outcomes = await self.dispatcher.send_all(claimed)
            total.add(TickStats(result.members, result.decided, len(claimed), outcomes,
                                planned - started, time.perf_counter() - planned))
            batches += 1
            if result.members < size and len(released) < size:
                break
        if total.members:
            log.info("scheduler_tick", at=(now or self.clock.now()).isoformat(),
                     members=total.members,
                     nudges=total.decided, sent=total.outcomes.get("sent", 0),
                     plan_ms=round(total.plan_s * 1000, 1))
        return total

    async def housekeeping(self, now: datetime | None = None) -> None:
        """After a tick: prune old nudges (hourly) and vacuum the schedule rows (PostgreSQL,
        once enough of them moved)."""
        await self.prune(now)
        if await self.store.maintain():
            log.info("schedules_vacuumed")

    async def prune(self, now: datetime | None = None) -> int:
        """At most hourly per process: drop nudges older than the retention (the ticks call it)."""
        now = now or self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return 0
        self._pruned_at = now
        removed = await self.store.prune(now - RETENTION)
        if removed:
            log.info("nudges_pruned", removed=removed)
        return removed

    async def aclose(self) -> None:
        for port, owned in ((self.dispatcher.sms, self._owns_sms), (self.dispatcher.calls, True)):
            close = getattr(port, "aclose", None) if owned else None
            if close is not None:
                await close()


class OwnerLock:
    """One process ticks per SQLite file: the one holding an OS lock on `path`.

    `luna serve --workers N` starts N processes with the same lifespan. The ticks would be
    safe in all of them (every nudge key is claimed before it is sent), but each would plan
    the same members and queue for the same write lock. The lock goes with its process, so
    when the owner exits, another worker takes over at its next tick.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_database(cls, url: str) -> OwnerLock:
        database = make_url(url).database
        in_memory = not database or database == ":memory:" or database.startswith("file:")
        return cls(None if in_memory else f"{database}.scheduler.lock")

    @property
    def held(self) -> bool:
        return self.path is None or self._fd is not None

    def acquire(self) -> bool:
        """Whether this process is the owner now (never blocks)."""
        if self.path is None or self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


class InProcessScheduler:
    """The SQLite deployment's scheduler: one loop inside `luna serve` (inside one of its
    workers, the one holding `owner`)."""

    def __init__(
        self, scheduler: Scheduler, interval_s: float, owner: OwnerLock | None = None
    ) -> None:
        self.scheduler = scheduler
        self.interval_s = interval_s
        self.owner = owner or OwnerLock(None)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="luna-scheduler")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let a tick in progress finish (briefly), then stop; claimed keys keep it safe."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self.owner.release()
        await self.scheduler.aclose()

    async def _loop(self) -> None:
        log.info("scheduler_started", mode="in-process", every_s=self.interval_s)
        ready = standing_by = False
        while not self._stop.is_set():
            try:
                if self.owner.acquire():
                    if not ready:
                        await self.scheduler.store.ensure_rows()
                        ready = True
                    await self.scheduler.tick()
                    await self.scheduler.housekeeping()
                elif not standing_by:
                    standing_by = True
                    log.info("scheduler_standby", reason="another worker runs the ticks")
            except Exception:
                # A failed tick is retried at the next one; the keys keep that harmless.
                log.exception("scheduler_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)


@contextlib.asynccontextmanager
async def running(
    services: Services, settings: Settings, *, sms: SmsPort | None = None
) -> AsyncIterator[InProcessScheduler | None]:
    """The app's scheduler for its lifetime: in-process on SQLite; on PostgreSQL the workers
    (`luna worker`) run it, so the app only says so."""
    if not settings.scheduler_enabled:
        log.info("scheduler_off")
        yield None
        return
    if not settings.is_sqlite:
        log.info("scheduler_external", hint="PostgreSQL: run `luna worker` for proactive nudges")
        yield None
        return
    loop = InProcessScheduler(
        Scheduler(services, settings, sms=sms), settings.scheduler.tick_s,
        OwnerLock.for_database(settings.database_url),
    )
    loop.start()
    try:
        yield loop
    finally:
        await loop.stop()
