"""The chore tools backed by an external chore app: a second Luna on 127.0.0.1 (uvicorn in a
thread, its own SQLite file, its own household and token), up, refusing, silent and down."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine

from luna.channels.app import create_app
from luna.config import load_settings
from luna.db.engine import Database
from luna.db.models import Base
from luna.services.container import Services
from luna.testing.clock import FrozenClock
from tests.conftest import ADMIN_TOKEN, NOW, Family, make_family

REMOTE_ADMIN = "remote-admin-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SecondLuna:
    url: str
    token: str
    ids: dict[str, int]
    """Its members and chores by name; its member ids differ from ours on purpose."""
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def get(self, path: str) -> Any:
        r = httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def second_luna(tmp_path: Path) -> Iterator[SecondLuna]:
    db_file = tmp_path / "chore-app.db"
    engine = create_engine(f"sqlite:///{db_file}")
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = load_settings(env="test", admin_token=REMOTE_ADMIN,
                             database_url=f"sqlite+aiosqlite:///{db_file}")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(settings, clock=FrozenClock(NOW)), host="127.0.0.1", port=port,
        log_level="warning", lifespan="on",
    ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the second Luna did not start")
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    try:
        yield _seed(base, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _seed(base: str, server: uvicorn.Server, thread: threading.Thread) -> SecondLuna:
    with httpx.Client(base_url=base) as c:
        r = c.post("/api/households", headers={"Authorization": f"Bearer {REMOTE_ADMIN}"},
                   json={"name": "Rivera chores", "timezone": "America/New_York",
                         "admin_name": "Maya"})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        ids = {"maya": r.json()["admin_member_id"]}
        for name, role in (("Grandpa", "adult"), ("Ben", "adult"), ("Ava", "child")):
            r = c.post("/api/members", json={"name": name, "role": role}, headers=auth)
            assert r.status_code == 201, r.text
            ids[name.lower()] = r.json()["id"]
        for key, body in {
            "trash": {"title": "Take out trash", "assignee_id": ids["ava"], "points": 2,
                      "schedule": {"kind": "weekly", "weekdays": ["wed", "sat"]}},
            "dishes": {"title": "Dishes", "assignee_id": ids["ben"],
                       "schedule": {"kind": "every_n_days", "interval_days": 1}},
            "garage": {"title": "Sweep the garage", "assignee_id": ids["maya"],
                       "schedule": {"kind": "once", "date": "2026-03-07"}},
        }.items():
            r = c.post("/api/chores", json=body, headers=auth)
            assert r.status_code == 201, r.text
            ids[key] = r.json()["id"]
    return SecondLuna(base, token, ids, server, thread)


@dataclass
class Bridged:
    client: httpx.AsyncClient
    family: Family
    services: Services

    async def tool(self, name: str, who: str = "adult", **arguments: Any) -> dict[str, Any]:
        r = await self.client.post(f"/api/tools/{name}", json={"arguments": arguments},
                                   headers=self.family.headers(who))
        assert r.status_code == 200, r.text  # a failing chore app is a tool error, not a crash
        body: dict[str, Any] = r.json()
        return body


async def _bridged(database: Database, clock: FrozenClock, url: str, token: str,
                   timeout_s: float = 3.0) -> AsyncIterator[Bridged]:
    settings = load_settings(env="test", admin_token=ADMIN_TOKEN, database_url=database.url,
                             chore_app_url=url, chore_app_token=token,
                             chore_app_timeout_s=timeout_s)
    services = Services.build(database, clock, settings=settings)
    app = create_app(settings, services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        yield Bridged(client, await make_family(client), services)


@pytest.fixture
async def bridged(
    database: Database, clock: FrozenClock, second_luna: SecondLuna
) -> AsyncIterator[Bridged]:
    async for b in _bridged(database, clock, second_luna.url, second_luna.token):
        yield b


async def test_get_chores_comes_from_the_chore_app_with_our_member_ids(
    bridged: Bridged, second_luna: SecondLuna
) -> None:
    res = await bridged.tool("get_chores")
    assert res["ok"] is True, res
    chores = {c["title"]: c for c in res["result"]["chores"]}
    assert set(chores) == {"Take out trash", "Dishes", "Sweep the garage"}
    fam = bridged.family
    assert chores["Take out trash"]["id"] == second_luna.ids["trash"]
    assert chores["Take out trash"]["assignee_id"] == fam.child_id  # theirs is another number
    assert second_luna.ids["ava"] != fam.child_id
    assert chores["Dishes"]["assignee_id"] == fam.partner_id
    assert chores["Take out trash"]["schedule"]["rrule"] == "FREQ=WEEKLY;BYDAY=WE,SA"

    res = await bridged.tool("get_chores", member="Ava", day="today")
    assert res["ok"] is True, res
    assert [c["title"] for c in res["result"]["chores"]] == ["Take out trash"]
    res = await bridged.tool("get_chores", member="Benny", day="saturday")
    assert sorted(c["title"] for c in res["result"]["chores"]) == ["Dishes"]
    res = await bridged.tool("get_chores", day="tomorrow", member="me")
    assert res["result"]["count"] == 0

    res = await bridged.tool("get_schedule", start="saturday", member="Maya")
    assert res["ok"] is True, res
    assert [c["title"] for c in res["result"]["chores"]] == ["Sweep the garage"]

    # Luna's own chore list is untouched: the tools use the chore app instead.
    assert bridged.services.chore_backend is not bridged.services.chores
    r = await bridged.client.get("/api/chores", headers=fam.headers())
    assert r.json() == []


async def test_complete_chore_posts_completed_by_in_the_chore_apps_ids(
    bridged: Bridged, second_luna: SecondLuna
) -> None:
    res = await bridged.tool("complete_chore", chore="trash", completed_by="Ava")
    assert res["ok"] is True, res
    done = res["result"]
    assert done["chore_id"] == second_luna.ids["trash"]
    assert done["completed_by"] == bridged.family.child_id and done["points_awarded"] == 2
    assert done["next_due"] == "2026-03-07"
    there = second_luna.get(f"/api/chores/{second_luna.ids['trash']}")
    assert there["completions"][0]["completed_by"] == second_luna.ids["ava"]
    assert there["next_due"] == "2026-03-07"

    res = await bridged.tool("complete_chore", chore="dishes")  # the speaker did it
    assert res["ok"] is True, res
    there = second_luna.get(f"/api/chores/{second_luna.ids['dishes']}")
    assert there["completions"][0]["completed_by"] == second_luna.ids["maya"]

    res = await bridged.tool("complete_chore", chore="trash", completed_by="Ben", who="child")
    assert res["ok"] is False and res["error"] == "forbidden"  # credit is for herself only
    res = await bridged.tool("complete_chore", chore="garage", who="child")
    assert res["ok"] is False and res["error"] == "not_found"  # she sees her own chores only
    res = await bridged.tool("complete_chore", chore=str(second_luna.ids["garage"]),
                             who="child")
    assert res["ok"] is False and res["error"] == "forbidden"  # not her chore


async def test_reschedule_delegate_and_overdue_go_through_the_chore_app(
    bridged: Bridged, second_luna: SecondLuna
) -> None:
    res = await bridged.tool("delegate_chore", chore="garage", to="Benny")
    assert res["ok"] is True, res
    assert res["result"]["assignee_id"] == bridged.family.partner_id
    there = second_luna.get(f"/api/chores/{second_luna.ids['garage']}")
    assert there["assignee_id"] == second_luna.ids["ben"]
    res = await bridged.tool("reschedule_chore", chore="garage", day="sunday")
    assert res["ok"] is True, res
    assert second_luna.get(f"/api/chores/{second_luna.ids['garage']}")["next_due"] == "2026-03-08"
    res = await bridged.tool("get_overdue_chores")
    assert res["ok"] is True and res["result"]["count"] == 0
    res = await bridged.tool("create_chore", title="Feed the cat", assignee="Ava",
                             schedule="every_n_days", every_days=1)
    assert res["ok"] is True, res
    assert res["result"]["assignee_id"] == bridged.family.child_id
    titles = [c["title"] for c in second_luna.get("/api/chores")]
    assert "Feed the cat" in titles


async def test_chore_app_errors_come_back_as_clear_tool_errors(
    bridged: Bridged, second_luna: SecondLuna
) -> None:
    res = await bridged.tool("complete_chore", chore="999")
    assert res["ok"] is False and res["error"] == "upstream_error"
    assert "chore 999 not found" in res["detail"] and "127.0.0.1" in res["detail"]
    res = await bridged.tool("complete_chore", chore="garage")
    assert res["ok"] is True
    res = await bridged.tool("complete_chore", chore=str(second_luna.ids["garage"]))
    assert res["ok"] is False and res["error"] == "upstream_error"
    assert "already done" in res["detail"]


async def test_while_the_chore_app_is_down_the_tools_say_so_and_luna_keeps_going(
    bridged: Bridged, second_luna: SecondLuna
) -> None:
    assert (await bridged.tool("get_chores"))["ok"] is True
    second_luna.stop()
    for name, args in (("get_chores", {}), ("complete_chore", {"chore": "trash"}),
                       ("get_overdue_chores", {})):
        res = await bridged.tool(name, **args)
        assert res["ok"] is False and res["error"] == "upstream_error", res
        assert "unreachable" in res["detail"] and second_luna.token not in res["detail"]
    # The rest of the schedule still comes, without the chores.
    res = await bridged.tool("get_schedule", start="today")
    assert res["ok"] is True and res["result"]["chores"] == [], res
    assert "unreachable" in res["result"]["chores_unavailable"]
    res = await bridged.tool("create_task", title="Call the plumber")
    assert res["ok"] is True


async def test_a_chore_app_that_never_answers_times_out_clearly(
    database: Database, clock: FrozenClock
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections into the backlog, never answers them
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        async for b in _bridged(database, clock, url, "whatever", timeout_s=0.3):
            started = time.monotonic()
            res = await b.tool("get_chores")
            assert res["ok"] is False and res["error"] == "upstream_error"
            assert "did not answer within 0.3 s" in res["detail"]
            assert time.monotonic() - started < 3
    finally:
        silent.close()


async def test_a_refused_token_is_a_clear_tool_error(
    database: Database, clock: FrozenClock, second_luna: SecondLuna
) -> None:
    async for b in _bridged(database, clock, second_luna.url, "luna_not-a-token"):
        res = await b.tool("get_chores")
        assert res["ok"] is False and res["error"] == "upstream_error"
        assert "refused Luna's token" in res["detail"] and "not-a-token" not in res["detail"]


async def test_without_a_chore_app_the_local_chores_are_used(
    client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    assert services.chore_backend is services.chores
    r = await client.post("/api/tools/create_chore", headers=family.headers(),
                          json={"arguments": {"title": "Mop", "assignee": "me"}})
    assert r.json()["ok"] is True
    r = await client.get("/api/chores", headers=family.headers())
    assert [c["title"] for c in r.json()] == ["Mop"]


async def test_undo_of_a_chore_app_completion_never_touches_a_local_chore(
    bridged: Bridged, second_luna: SecondLuna
) -> None:
    # The chore app numbers its completions itself; a local completion with the same number
    # must not be what "undo that" reverses.
    from luna.brain.recording import TurnRegistry
    from luna.services.access import ADMIN
    from luna.tools import catalog
    from luna.tools.context import ToolContext

    fam, svc = bridged.family, bridged.services
    local = await bridged.client.post("/api/chores", headers=fam.headers(), json={
        "title": "Water plants", "assignee_id": fam.adult_id,
        "schedule": {"kind": "every_n_days", "interval_days": 1}})
    assert local.status_code == 201, local.text
    r = await bridged.client.post(f"/api/chores/{local.json()['id']}/complete",
                                  headers=fam.headers())
    assert r.status_code == 200, r.text
    local_completion = r.json()["id"]

    ctx = ToolContext(svc, await svc.members.get(ADMIN, fam.adult_id), "sms")
    turn = TurnRegistry(catalog.load())
    done = await turn.invoke("complete_chore", ctx, {"chore": "dishes"})
    assert done.ok, done
    assert done.data["id"] == local_completion  # the same number on both sides
    undo = await turn.invoke("undo_last_action", ctx, {})
    assert (undo.ok, undo.error) == (False, "conflict"), undo
    assert "chore app" in (undo.detail or "")
    after = await bridged.client.get(f"/api/chores/{local.json()['id']}", headers=fam.headers())
    assert [c["id"] for c in after.json()["completions"]] == [local_completion]
    there = second_luna.get(f"/api/chores/{second_luna.ids['dishes']}")
    assert len(there["completions"]) == 1
