"""SQLite driven from the event loop's own thread, for SQLAlchemy's asyncio engine.

aiosqlite runs every cursor call in a worker thread: one query costs about five thread round
trips, which made a briefing (≈15 queries) spend more time waking the loop than in SQLite.
A local SQLite statement takes microseconds, so this dialect calls the stdlib driver directly;
the asyncio engine's greenlet simply never has to wait.

The price is that SQLite's busy-wait would block the loop. So `Database` lets one write
transaction at a time into SQLite per process (writers are serialised by SQLite anyway), and a
transaction's first write takes the lock from another process (a second `luna serve` worker,
the CLI) here: BEGIN IMMEDIATE without SQLite's busy wait, the loop sleeping between tries.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ConnectArgsType
from sqlalchemy.util.concurrency import await_

from luna.errors import Unavailable

DRIVER = "lunainline"
WRITE_LOCK_WAIT_S = 15.0
"""How long a writer waits for another process's write lock before giving up (Unavailable)."""
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """The asyncio engine's hook for releasing a cursor early; rows are already here."""


async def _ready() -> None:
    """Awaited once per statement: the asyncio engine insists each execute awaited something."""


def _try_begin_immediate(conn: sqlite3.Connection, busy_timeout_ms: int) -> bool:
    """BEGIN IMMEDIATE without SQLite's busy wait: False while another process has the lock."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    return True


async def _write_lock(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """The transaction's write lock, taken right before its first write (reads before it ran
    outside any transaction, as pysqlite does, so no snapshot can turn the write away).

    The tries are short, tight polls: a writer in the other worker holds the lock for a
    millisecond or so, and a long sleep here would let it take it again and again."""
    deadline = time.monotonic() + WRITE_LOCK_WAIT_S
    pause = 0.0001
    while not _try_begin_immediate(conn, busy_timeout_ms):
        if time.monotonic() > deadline:
            raise Unavailable("Luna is very busy right now; please try again in a moment")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.001)


def _begin_for_write(cursor: Any, statement: str) -> None:
    conn = cursor.connection
    if not conn.in_transaction and statement.lstrip()[:6].upper() in _WRITES:
        await_(_write_lock(conn, conn.busy_timeout_ms))


class _Connection(sqlite3.Connection):
    busy_timeout_ms = 5000
    """SQLite's own busy timeout (sqlite3.connect's default, or the `timeout` it was given),
    restored after each lock try."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timeout = kwargs.get("timeout")
        if timeout is not None:
            self.busy_timeout_ms = int(float(timeout) * 1000)

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):  # noqa: N801 - SQLAlchemy's naming scheme
    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        # One shared connection keeps an in-memory database alive across sessions.
        return pool.StaticPool

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        await_(_ready())
        _begin_for_write(cursor, statement)
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_executemany(
        self, cursor: Any, statement: Any, parameters: Any, context: Any = None
    ) -> None:
        await_(_ready())
        _begin_for_write(cursor, statement)
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_execute_no_params(self, cursor: Any, statement: Any, context: Any = None) -> None:
        await_(_ready())
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        args, kwargs = super().create_connect_args(url)
        # The pool may hand a connection to whichever thread runs the loop (tests, the CLI).
        kwargs["check_same_thread"] = False
        kwargs["factory"] = _Connection
        return args, kwargs


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_inline")


def inline_url(url: str) -> str:
    """The same SQLite database, through this dialect."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("sqlite"):
        raise ValueError(f"not a SQLite URL: {url.split('://', 1)[0]}")
    return f"sqlite+{DRIVER}://{rest}"
