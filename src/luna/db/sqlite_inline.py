"""SQLite driven from the event loop's own thread, for SQLAlchemy's asyncio engine.

aiosqlite runs every cursor call in a worker thread: one query costs about five thread round
trips, which made a briefing (≈15 queries) spend more time waking the loop than in SQLite.
A local SQLite statement takes microseconds, so this dialect calls the stdlib driver directly;
the asyncio engine's greenlet simply never has to wait.

The price is that SQLite's busy-wait would block the loop, so `Database` lets one write
transaction at a time into SQLite per process (writers are serialised by SQLite anyway) and
keeps the busy timeout short for the rare writer in another process.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ConnectArgsType
from sqlalchemy.util.concurrency import await_

DRIVER = "lunainline"


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """The asyncio engine's hook for releasing a cursor early; rows are already here."""


async def _ready() -> None:
    """Awaited once per statement: the asyncio engine insists each execute awaited something."""


class _Connection(sqlite3.Connection):
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
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_executemany(
        self, cursor: Any, statement: Any, parameters: Any, context: Any = None
    ) -> None:
        await_(_ready())
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
