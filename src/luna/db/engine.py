"""The engine and session factory; the app's lifespan or the CLI owns one `Database`."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog
from sqlalchemy import Connection, event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import greenlet_spawn

from luna.config import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT_S, Settings

# Registers the flush hook that keeps member_schedules in step with what changes a member's day.
from luna.db import schedule_tracking as _schedule_tracking  # noqa: F401
from luna.db.sqlite_inline import inline_url
from luna.errors import Unavailable

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# SQLite's own busy timeout, which blocks the loop: it binds only the rare statement that is not
# a transaction's first write. That one waits for another process's lock on the loop instead
# (sqlite_inline.WRITE_LOCK_WAIT_S).
SQLITE_BUSY_TIMEOUT_S = 15
# A WAL checkpoint copies pages back and fsyncs. `checkpoints()` does that on a worker thread;
# the loop's own connections only do it if the WAL grows this large (about 40 MB) anyway.
SQLITE_AUTOCHECKPOINT_PAGES = 10_000
SQLITE_CHECKPOINT_EVERY_S = 5.0


@dataclass(slots=True)
class _Share:
    """The session that reads share inside `Database.shared_reads()`, until the first write."""

    db: Database
    session: AsyncSession
    open: bool = True


_SHARED: ContextVar[_Share | None] = ContextVar("luna_shared_read", default=None)


class Database:
    """One process's engine. On PostgreSQL the pool is bounded per process (see
    `Settings.db_pool_size`): the app and every `luna worker` each hold one, and together they
    must fit in the server's max_connections."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW, pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
    ) -> None:
        kwargs: dict[str, Any] = {"echo": echo}
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
            self.engine: AsyncEngine = create_async_engine(inline_url(url), **kwargs)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow,
                          pool_timeout=pool_timeout_s, pool_pre_ping=True)
            self.engine = create_async_engine(url, **kwargs)
        self.sessions = async_sessionmaker(
            self.engine,
            class_=_InlineSession if self.is_sqlite else AsyncSession,
            expire_on_commit=False,
        )
        # SQLite takes one writer at a time; queueing them here means a second writer waits on
        # the loop instead of blocking it in SQLite's busy handler while the first can't finish.
        self._writer = asyncio.Lock()
        self._writer_task: asyncio.Task[Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url, pool_size=settings.db_pool_size,
                   max_overflow=settings.db_max_overflow,
                   pool_timeout_s=settings.db_pool_timeout_s)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed on success, rolled back on any error."""
        async with self._writing():
            async with self.sessions() as session, session.begin():
                yield session

    async def run_write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(conn, ...)`: plain Core statements on a connection, in one transaction, run as
        one piece. The writes every text makes (its claim, its Interaction) pay the asyncio
        layer once, not for each statement, its begin, its commit and its close (each of
        those is a greenlet of its own, about a third of such a write's cost)."""
        async with self._writing():
            with _busy():
                return await greenlet_spawn(
                    self._in_transaction, lambda conn: fn(conn, *args, **kwargs))

    def _in_transaction(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.sync_engine.begin() as conn:
            return fn(conn)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        shared = _SHARED.get()
        if shared is not None and shared.db is self and shared.open:
            # What the shared session already loaded may be about to change: reads from here
            # on get fresh sessions that see this write. Its connection goes back to the pool
            # first, so a turn never holds one connection while waiting for a second (50
            # concurrent turns on a pool of 10 would otherwise wait on each other until the
            # pool timed out). What it loaded stays readable, detached.
            shared.open = False
            await shared.session.close()
        if not self.is_sqlite or self._writer_task is asyncio.current_task():
            with _busy():
                yield
            return
        async with self._writer:
            self._writer_task = asyncio.current_task()
            try:
                with _busy():
                    yield
            finally:
                self._writer_task = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        shared = _SHARED.get()
        if shared is not None and shared.db is self and shared.open:
            yield shared.session
            return
        with _busy():
            async with self.sessions() as session:
                yield session

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for a read or two, without an ORM session around it."""
        with _busy():
            if not self.is_sqlite:
                async with self.engine.connect() as conn:
                    yield conn
                return
            # As `_InlineSession`: closing never suspends here, so it is simply awaited.
            conn = await self.engine.connect()
            try:
                yield conn
            finally:
                await conn.close()

    @asynccontextmanager
    async def shared_reads(self) -> AsyncIterator[None]:
        """Every `read()` inside shares one session, so a composite read (a briefing is a
        dozen service reads) checks out one connection and loads each member row once.

        The share ends at the first `transaction()` inside, whose write the shared identity map
        would not see. Reads that share must run one at a time (no gather).
        """
        shared = _SHARED.get()
        if shared is not None and shared.db is self:
            yield
            return
        with _busy():
            async with self.sessions() as session:
                token = _SHARED.set(_Share(self, session))
                try:
                    yield
                finally:
                    _SHARED.reset(token)

    @asynccontextmanager
    async def checkpoints(self, every_s: float = SQLITE_CHECKPOINT_EVERY_S) -> AsyncIterator[None]:
        """While open (a server's lifespan), SQLite's WAL is checkpointed on a worker thread, so
        the disk flush never stalls the event loop the inline driver runs on."""
        path = self.engine.url.database if self.is_sqlite else None
        if not path or path == ":memory:":
            yield
            return
        task = asyncio.create_task(_checkpoint_loop(path, every_s), name="sqlite-checkpoints")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def dispose(self) -> None:
        await self.engine.dispose()


@contextmanager
def _busy() -> Iterator[None]:
    """Every pooled connection stayed busy past the pool's timeout: the server is overloaded,
    which callers hear as Unavailable (HTTP 503, a tool's "unavailable"), not as a crash."""
    try:
        yield
    except PoolTimeout as exc:
        log.warning("db_pool_exhausted", detail=str(exc).split(" (Background")[0])
        raise Unavailable("Luna is very busy right now; please try again in a moment") from exc


async def _checkpoint_loop(path: str, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(_checkpoint, path)
        except sqlite3.Error:
            log.warning("sqlite_checkpoint_failed", exc_info=True)


def _checkpoint(path: str) -> None:
    # PASSIVE: copies what no reader still needs and never waits for, or blocks, a writer.
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


class _InlineSession(AsyncSession):
    """On the inline SQLite driver closing never suspends, so cancellation cannot cut it short;
    the stock exit runs it as a shielded task, which costs two turns of the event loop."""

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        await self.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run during a write; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
    cursor.close()
