"""Shared fixtures: every database test runs on SQLite and, when LUNA_TEST_DATABASE_URL is set,
on PostgreSQL too. The network is off: nothing here reaches outside 127.0.0.1."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from luna.channels.app import create_app
from luna.config import load_settings
from luna.db.engine import Database
from luna.db.models import Base
from luna.services.access import ADMIN
from luna.services.container import Services
from luna.testing.clock import FrozenClock

# Wednesday 2026-03-04 10:30 in New York.
NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
ADMIN_TOKEN = "test-admin-token"
PG_URL = os.environ.get("LUNA_TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback connections: a test that needs a peer starts its own on 127.0.0.1."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
                raise RuntimeError(f"network access disallowed in tests: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def _backends() -> list[Any]:
    marks = [] if PG_URL else [pytest.mark.skip(reason="LUNA_TEST_DATABASE_URL not set")]
    return ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, *marks])]


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'luna.db'}"
    assert PG_URL is not None
    return load_settings(database_url=PG_URL).database_url


_pg_schema_ready = False


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    global _pg_schema_ready
    db = Database(db_url)
    if db.dialect == "sqlite":
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        if not _pg_schema_ready:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.drop_all)
                await conn.run_sync(Base.metadata.create_all)
            _pg_schema_ready = True
        await _truncate(db)
    try:
        yield db
    finally:
        await db.dispose()


async def _truncate(db: Database) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def services(database: Database, clock: FrozenClock) -> Services:
    return Services.build(database, clock)


@pytest.fixture
def settings() -> Any:
    return load_settings(env="test", admin_token=ADMIN_TOKEN, database_url="sqlite+aiosqlite://")


@pytest.fixture
async def client(services: Services, settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Family:
    """A household made through the API: its ids and a token for each member."""

    household_id: int
    adult_id: int
    adult_token: str
    child_id: int
    child_token: str
    partner_id: int

    def headers(self, who: str = "adult") -> dict[str, str]:
        token = self.adult_token if who == "adult" else self.child_token
        return {"Authorization": f"Bearer {token}"}


async def make_family(
    client: httpx.AsyncClient, name: str = "Rivera", phone_prefix: str = "+1555010"
) -> Family:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    r = await client.post(
        "/api/households",
        json={"name": name, "timezone": "America/New_York", "admin_name": "Maya",
              "admin_phone": f"{phone_prefix}0001"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    h = r.json()
    adult = {"Authorization": f"Bearer {h['token']}"}
    r = await client.post(
        "/api/members", json={"name": "Ava", "role": "child", "phone": f"{phone_prefix}0002"},
        headers=adult,
    )
    assert r.status_code == 201, r.text
    child_id = r.json()["id"]
    r = await client.post("/api/members", json={"name": "Ben", "nicknames": ["Benny"]},
                          headers=adult)
    assert r.status_code == 201, r.text
    partner_id = r.json()["id"]
    r = await client.post(f"/api/members/{child_id}/tokens", json={}, headers=adult)
    assert r.status_code == 201, r.text
    return Family(h["id"], h["admin_member_id"], h["token"], child_id, r.json()["token"],
                  partner_id)


@pytest.fixture
async def family(client: httpx.AsyncClient) -> Family:
    return await make_family(client)


@pytest.fixture
async def other_family(client: httpx.AsyncClient) -> Family:
    return await make_family(client, name="Okafor", phone_prefix="+1555020")


@pytest.fixture
def admin_actor() -> Iterator[Any]:
    yield ADMIN
