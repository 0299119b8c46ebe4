"""The database layer itself: SQLite driven on the loop's thread, writers queued, shared reads."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from luna.db.engine import Database
from luna.db.models import Base, Household
from luna.errors import Unavailable

WRITERS = 20


async def test_concurrent_writers_that_yield_mid_transaction_all_commit(
    database: Database,
) -> None:
    """On SQLite a second writer would otherwise wait in SQLite's busy handler, blocking the
    very loop the first writer needs to finish: every one of these would time out."""

    async def write(n: int) -> None:
        async with database.transaction() as s:
            s.add(Household(name=f"House {n}", timezone="UTC"))
            await s.flush()
            await asyncio.sleep(0.01)  # another writer gets the loop while this one holds a lock
            s.add(Household(name=f"House {n} annex", timezone="UTC"))

    started = time.monotonic()
    await asyncio.gather(*(write(n) for n in range(WRITERS)))
    async with database.read() as s:
        count = await s.scalar(select(func.count()).select_from(Household))
    assert count == 2 * WRITERS
    assert time.monotonic() - started < 5


async def test_a_failed_transaction_rolls_back_and_frees_the_next_writer(
    database: Database,
) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as s:
            s.add(Household(name="Doomed", timezone="UTC"))
            await s.flush()
            raise RuntimeError("boom")
    async with database.transaction() as s:
        s.add(Household(name="Kept", timezone="UTC"))
    async with database.read() as s:
        names = list(await s.scalars(select(Household.name)))
    assert names == ["Kept"]


async def test_a_turn_cancelled_inside_a_write_or_a_read_rolls_back_and_frees_its_connection(
    database: Database,
) -> None:
    """A client that hangs up cancels its turn: whatever the turn held goes back to the pool,
    and what it wrote is gone, on every kind of connection the services use."""
    async def write() -> None:
        async with database.transaction() as s:
            s.add(Household(name="Cancelled", timezone="UTC"))
            await s.flush()
            await asyncio.sleep(10)

    async def read() -> None:
        async with database.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(10)

    for body in (write, read):
        task = asyncio.create_task(body())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with database.transaction() as s:  # the write lock was let go as well
        s.add(Household(name="Kept", timezone="UTC"))
    async with database.read() as s:
        names = list(await s.scalars(select(Household.name)))
    assert names == ["Kept"]


async def test_a_transaction_may_read_through_another_session_inside_it(
    database: Database,
) -> None:
    async with database.transaction() as s:
        s.add(Household(name="Outer", timezone="UTC"))
        async with database.transaction() as inner:
            assert await inner.scalar(select(func.count()).select_from(Household)) is not None


async def test_reads_inside_shared_reads_use_one_session(database: Database) -> None:
    async with database.read() as a, database.read() as b:
        assert a is not b
    async with database.shared_reads():
        async with database.read() as a:
            pass
        async with database.read() as b:
            assert await b.scalar(text("select 1")) == 1
        assert a is b
    other = Database(database.url)
    try:
        async with database.shared_reads(), other.read() as c, database.read() as d:
            assert c is not d  # the share belongs to one database
    finally:
        await other.dispose()


async def test_core_statements_run_on_an_async_connection(database: Database) -> None:
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("select 41 + 1"))).scalar_one() == 42


async def test_reads_after_a_write_inside_shared_reads_see_the_write(database: Database) -> None:
    async with database.shared_reads():
        async with database.read() as before:
            assert await before.scalar(select(func.count()).select_from(Household)) == 0
        async with database.transaction() as s:
            s.add(Household(name="New", timezone="UTC"))
        async with database.read() as after:
            assert after is not before
            assert await after.scalar(select(func.count()).select_from(Household)) == 1


async def test_turns_that_read_then_write_never_wait_on_each_other_for_a_connection(
    database: Database,
) -> None:
    """Each turn reads in its shared session, then writes. If the shared session kept its
    connection through the write, four turns on a pool of two would each hold one connection
    and wait for a second until the pool timed out."""
    small = Database(database.url, pool_size=1, max_overflow=1, pool_timeout_s=3)

    async def turn(n: int) -> str:
        async with small.shared_reads():
            async with small.read() as s:
                first = await s.scalar(select(Household).order_by(Household.id).limit(1))
            await asyncio.sleep(0.05)  # every turn holds its read before any of them writes
            async with small.transaction() as s:
                s.add(Household(name=f"Turn {n}", timezone="UTC"))
            assert first is not None
            return first.name  # what the shared session loaded stays readable after the write

    try:
        async with small.transaction() as s:
            s.add(Household(name="First", timezone="UTC"))
        assert await asyncio.gather(*(turn(n) for n in range(4))) == ["First"] * 4
    finally:
        await small.dispose()


async def test_a_pool_with_every_connection_busy_is_unavailable_not_a_crash(
    database: Database,
) -> None:
    """Overload (a thousand webhooks at once) must answer 503 and log one line each, not
    crash with SQLAlchemy's pool timeout as a 500 and a traceback."""
    if database.is_sqlite:
        pytest.skip("the pool settings bound PostgreSQL's pool; SQLite's connections are local")
    small = Database(database.url, pool_size=1, max_overflow=0, pool_timeout_s=0.2)
    try:
        async with small.read() as holding:
            await holding.execute(text("select 1"))  # the pool's only connection, kept
            with pytest.raises(Unavailable):
                async with small.read() as s:
                    await s.execute(text("select 1"))
            with pytest.raises(Unavailable):
                async with small.transaction() as s:
                    s.add(Household(name="Waiting", timezone="UTC"))
        async with small.read() as s:  # and once it is free again, all is well
            assert await s.scalar(text("select 1")) == 1
    finally:
        await small.dispose()


async def test_checkpoints_copy_the_wal_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with db.checkpoints(every_s=0.05):
            for n in range(50):
                async with db.transaction() as s:
                    s.add(Household(name=f"House {n}", timezone="UTC"))
            for _ in range(100):  # up to 5 s
                if _in_database_file(path) == 50:
                    break
                await asyncio.sleep(0.05)
        # Far below the autocheckpoint size: only the checkpointer can have moved them.
        assert _in_database_file(path) == 50
    finally:
        await db.dispose()


def _in_database_file(path: Path) -> int:
    """Households in the main file itself; `immutable` reads it without looking at the WAL."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("select count(*) from households").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema has been copied over yet
        return 0
    finally:
        conn.close()


@asynccontextmanager
async def _shared_file(path: Path) -> AsyncIterator[tuple[Database, sqlite3.Connection]]:
    """A database file, and a plain sqlite3 connection to it: what another process has."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield db, other
    finally:
        other.close()
        await db.dispose()


async def test_a_writer_waits_for_another_process_lock_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    """A second `luna serve` worker holds SQLite's write lock. The writer here waits for it on
    the loop, which keeps serving everything else, and then commits; SQLite's busy handler
    would have stopped the loop."""
    async with _shared_file(tmp_path / "two.db") as (db, other):
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO households (name, timezone, settings, created_at) "
                      "VALUES ('Theirs', 'UTC', '{}', '2026-01-01')")

        async def write() -> None:
            async with db.transaction() as s:
                s.add(Household(name="Ours", timezone="UTC"))

        writer = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writer.done()  # it is waiting for the other process ...
        other.execute("COMMIT")  # ... until that one lets go
        await asyncio.wait_for(writer, 2)
        async with db.read() as s:
            names = sorted(await s.scalars(select(Household.name)))
        assert names == ["Ours", "Theirs"]

        # And while it waited, the loop went on: a waiting writer must not freeze it.
        other.execute("BEGIN IMMEDIATE")
        writer = asyncio.create_task(write())
        started = time.monotonic()
        ticks = 0
        while time.monotonic() - started < 0.3:
            await asyncio.sleep(0.005)
            ticks += 1
        other.execute("ROLLBACK")
        await writer
        assert ticks >= 20  # 60 possible; SQLite's busy handler would have allowed about 0


async def test_a_writer_that_never_gets_the_lock_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from luna.db import sqlite_inline

    monkeypatch.setattr(sqlite_inline, "WRITE_LOCK_WAIT_S", 0.2)
    async with _shared_file(tmp_path / "stuck.db") as (db, other):
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable):
            async with db.transaction() as s:
                s.add(Household(name="Never", timezone="UTC"))
        other.execute("ROLLBACK")
        async with db.transaction() as s:  # the lock is free again: writes go through
            s.add(Household(name="Later", timezone="UTC"))
        async with db.read() as s:
            assert list(await s.scalars(select(Household.name))) == ["Later"]


def _two_households(conn: Connection, second: str) -> int:
    conn.execute(insert(Household).values(name="First", timezone="UTC"))
    conn.execute(insert(Household).values(name=second, timezone="UTC"))
    return int(conn.execute(select(func.count()).select_from(Household)).scalar_one())


async def test_a_write_run_as_one_piece_commits_or_rolls_back_all_its_statements(
    database: Database,
) -> None:
    assert await database.run_write(_two_households, "Second") == 2
    with pytest.raises(IntegrityError):  # the second insert breaks: the first goes too
        await database.run_write(_two_households, None)  # type: ignore[arg-type]
    async with database.read() as s:
        assert sorted(await s.scalars(select(Household.name))) == ["First", "Second"]
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_write_run_as_one_piece_waits_for_another_process_and_can_be_cancelled(
    tmp_path: Path,
) -> None:
    async with _shared_file(tmp_path / "piece.db") as (db, other):
        other.execute("BEGIN IMMEDIATE")
        writer = asyncio.create_task(db.run_write(_two_households, "Second"))
        await asyncio.sleep(0.2)
        assert not writer.done()  # waiting for the other process, on the loop
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        other.execute("ROLLBACK")
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert await db.run_write(_two_households, "Again") == 2  # nothing of the first
