"""POST /api/chat: the browser chat over the same brain, with the LLM behind a local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from luna.channels.app import create_app
from luna.config import load_settings
from luna.services.container import Services
from luna.testing.fake_openai import FakeOpenAI, Step, call, calls, reply
from tests.conftest import ADMIN_TOKEN, Family, make_family


@asynccontextmanager
async def chat_app(
    services: Services, script: list[Step], **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeOpenAI]]:
    fake = FakeOpenAI(script)
    async with fake as base_url:
        settings = load_settings(
            env="test", admin_token=ADMIN_TOKEN, database_url="sqlite+aiosqlite://",
            openai_base_url=base_url, **{"brain_mode": "llm_only", **overrides},
        )
        app = create_app(settings, services=services)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c, fake
        finally:
            await app.state.brain.aclose()


async def test_chat_answers_with_the_reply_and_the_actions_taken(services: Services) -> None:
    script = [calls(call("create_task", title="Buy milk", due="tomorrow at 9am")),
              reply("Buy milk is on your list for tomorrow morning!")]
    async with chat_app(services, script) as (client, fake):
        family = await make_family(client)
        r = await client.post("/api/chat", json={"text": "remind me to buy milk tomorrow 9am"},
                              headers=family.headers())
        assert r.status_code == 200, r.text
        body = r.json()
        tasks = (await client.get("/api/tasks", headers=family.headers())).json()
        interactions = (await client.get("/api/interactions", headers=family.headers())).json()
    fake.assert_complete()
    assert body["reply"] == "Buy milk is on your list for tomorrow morning!"
    assert body["handled_by"] == "llm"
    [action] = body["actions"]
    assert action["tool"] == "create_task" and action["ok"] is True
    assert action["arguments"] == {"title": "Buy milk", "due": "tomorrow at 9am"}
    assert action["result"]["due_at"] == "2026-03-05T09:00:00-05:00"
    assert [t["title"] for t in tasks] == ["Buy milk"]
    assert interactions[0]["id"] == body["interaction_id"]
    assert interactions[0]["channel"] == "web_chat"
    assert interactions[0]["metadata"]["handled_by"] == "llm"


async def test_chat_as_another_member_needs_an_adult_of_the_same_household(
    services: Services,
) -> None:
    async with chat_app(services, [reply("Hi Ava!")]) as (client, fake):
        family = await make_family(client)
        other = await make_family(client, name="Okafor", phone_prefix="+1555020")
        as_child = await client.post("/api/chat", json={"member_id": family.child_id,
                                                        "text": "hello"},
                                     headers=family.headers())
        assert as_child.status_code == 200, as_child.text
        child_for_parent = await client.post(
            "/api/chat", json={"member_id": family.adult_id, "text": "hello"},
            headers=family.headers("child"))
        assert child_for_parent.status_code == 403
        foreign = await client.post("/api/chat", json={"member_id": other.adult_id,
                                                       "text": "hello"},
                                    headers=family.headers())
        assert foreign.status_code == 404
        assert foreign.json()["error"] == "not_found"
    fake.assert_complete()
    assert "Ava" in fake.requests[0]["messages"][0]["content"]


async def test_chat_rejects_empty_blank_and_overlong_text(services: Services) -> None:
    async with chat_app(services, []) as (client, fake):
        family = await make_family(client)
        for text in ("", "   ", "x" * 2001):
            r = await client.post("/api/chat", json={"text": text}, headers=family.headers())
            assert r.status_code == 422, text
            assert r.json()["error"] == "invalid_input"
        r = await client.post("/api/chat", json={"text": "hi", "extra": 1},
                              headers=family.headers())
        assert r.status_code == 422
        assert (await client.post("/api/chat", json={"text": "hi"})).status_code == 401
    assert fake.requests == []


async def test_chat_without_an_llm_falls_back_to_saying_what_luna_can_do(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/chat", json={"text": "xyzzy plugh frobnicate"},
                          headers=family.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["handled_by"] == "fallback" and body["actions"] == []
    assert "tasks" in body["reply"]


async def test_chat_in_local_only_mode_never_reaches_the_model(services: Services) -> None:
    async with chat_app(services, [], brain_mode="local_only") as (client, fake):
        family = await make_family(client)
        r = await client.post("/api/chat", json={"text": "xyzzy plugh frobnicate"},
                              headers=family.headers())
        assert r.status_code == 200
    assert fake.requests == []
    assert r.json()["handled_by"] == "fallback"
