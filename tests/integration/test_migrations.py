"""Alembic builds the same schema as the models, and walks down and up again, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from luna.config import load_settings
from luna.db import migrate
from luna.db.models import Base
from tests.conftest import PG_URL


def _sync_url(async_url: str) -> str:
    return async_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def _tables(async_url: str) -> set[str]:
    engine = create_engine(_sync_url(async_url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migration_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
    if not PG_URL:
        pytest.skip("LUNA_TEST_DATABASE_URL not set")
    return _fresh_pg_database(load_settings(database_url=PG_URL).database_url)


def _fresh_pg_database(url: str) -> str:
    """A database of its own, so the other tests' tables are left alone."""
    base, _, dbname = url.rpartition("/")
    target = f"{dbname.split('?')[0]}_migrations"
    engine = create_engine(_sync_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target}"'))
    engine.dispose()
    return f"{base}/{target}"


def test_upgrade_downgrade_upgrade_matches_the_models(migration_url: str) -> None:
    expected = set(Base.metadata.tables)
    migrate.upgrade(migration_url)
    assert _tables(migration_url) == expected
    migrate.downgrade(migration_url, "base")
    assert _tables(migration_url) == set()
    migrate.upgrade(migration_url)
    assert _tables(migration_url) == expected


def test_models_and_migrations_agree(migration_url: str) -> None:
    """No model change is left without a migration (alembic's autogenerate finds no diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(migration_url)
    engine = create_engine(_sync_url(migration_url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
