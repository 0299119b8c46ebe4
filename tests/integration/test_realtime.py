"""POST /api/realtime/*: ephemeral keys for browser voice, handoffs, and saved calls."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import pytest
from openai.types.realtime import (
    RealtimeClientEvent,
    RealtimeSessionCreateRequest,
    client_secret_create_params,
)
from pydantic import ConfigDict, Field, TypeAdapter

from luna.channels.api.realtime import RateLimiter
from luna.channels.app import create_app
from luna.config import load_settings
from luna.errors import LunaError
from luna.services.access import Actor
from luna.services.container import Services
from luna.testing.fake_webrtc_realtime import FakeRealtimePeer
from tests.conftest import ADMIN_TOKEN, Family, make_family

KEY = "sk-test-server-secret-4242"
# The TypedDict flavour with extra="forbid" catches misspelled or beta-era keys, which the
# SDK's pydantic models would silently accept.
STRICT_SESSION = TypeAdapter(
    client_secret_create_params.Session, config=ConfigDict(extra="forbid")
)
CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(
    Annotated[  # type: ignore[arg-type]
        typing.Union[typing.get_args(typing.get_args(RealtimeClientEvent)[0])],  # noqa: UP007
        Field(discriminator="type"),
    ]
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRealtimePeer]:
    with FakeRealtimePeer(api_key=KEY) as peer:
        yield peer


@pytest.fixture
async def voice(services: Services, fake: FakeRealtimePeer) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        env="test", admin_token=ADMIN_TOKEN, database_url="sqlite+aiosqlite://",
        OPENAI_API_KEY=KEY, openai_realtime_base_url=fake.base_url, brain_mode="local_only",
    )
    app = create_app(settings, services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def fam(voice: httpx.AsyncClient) -> Family:
    return await make_family(voice)


async def test_minting_returns_a_short_lived_key_and_never_the_server_key(
    voice: httpx.AsyncClient, fam: Family, fake: FakeRealtimePeer
) -> None:
    r = await voice.post("/api/realtime/client_secrets", headers=fam.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["value"].startswith("ek_fake_")
    assert body["calls_url"] == f"{fake.base_url}/realtime/calls"
    assert KEY not in r.text
    sent = fake.secrets[-1]
    assert sent["expires_after"] == {"anchor": "created_at", "seconds": 120}
    session = RealtimeSessionCreateRequest.model_validate(sent["session"])
    STRICT_SESSION.validate_python(sent["session"])
    assert session.type == "realtime" and session.model == "gpt-realtime-mini"
    assert session.audio is not None and session.audio.output is not None
    assert session.audio.output.voice == "marin"
    assert "You are Luna" in (session.instructions or "")
    assert "You are talking with Maya" in (session.instructions or "")
    names = {t.name for t in session.tools or [] if hasattr(t, "name")}
    assert {"create_task", "complete_chore", "transfer_to_habit_coach"} <= names


async def test_with_a_key_the_page_offers_realtime_voice_and_allows_its_origin(
    voice: httpx.AsyncClient, fam: Family, fake: FakeRealtimePeer
) -> None:
    r = await voice.get("/login", params={"token": fam.adult_token})
    page = await voice.get(r.headers["location"])
    assert 'data-mode="realtime"' in page.text
    assert f"connect-src 'self' http://127.0.0.1:{fake.port}" in page.headers[
        "content-security-policy"]
    assert KEY not in page.text


async def test_minting_needs_a_member_login(voice: httpx.AsyncClient, fam: Family) -> None:
    r = await voice.post("/api/realtime/client_secrets")
    assert r.status_code == 401
    r = await voice.post("/api/realtime/client_secrets",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 403


async def test_minting_is_rate_limited_per_member(voice: httpx.AsyncClient, fam: Family) -> None:
    for _ in range(5):
        r = await voice.post("/api/realtime/client_secrets", headers=fam.headers())
        assert r.status_code == 200
    r = await voice.post("/api/realtime/client_secrets", headers=fam.headers())
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    r = await voice.post("/api/realtime/client_secrets", headers=fam.headers("child"))
    assert r.status_code == 200  # another member has their own budget


async def test_without_an_openai_key_voice_says_it_is_unavailable(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.post("/api/realtime/client_secrets", headers=family.headers())
    assert r.status_code == 503 and "OpenAI key" in r.json()["detail"]


async def test_an_upstream_failure_is_a_502_without_the_key(
    services: Services, fake: FakeRealtimePeer
) -> None:
    settings = load_settings(env="test", admin_token=ADMIN_TOKEN,
                             database_url="sqlite+aiosqlite://", OPENAI_API_KEY="sk-wrong-key",
                             openai_realtime_base_url=fake.base_url)
    app = create_app(settings, services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as c:
        fam = await make_family(c)
        r = await c.post("/api/realtime/client_secrets", headers=fam.headers())
    assert r.status_code == 502 and "sk-wrong-key" not in r.text


async def test_a_handoff_returns_a_valid_session_update_for_the_specialist(
    voice: httpx.AsyncClient, fam: Family
) -> None:
    r = await voice.post("/api/realtime/handoff", headers=fam.headers(),
                         json={"tool": "transfer_to_habit_coach"})
    assert r.status_code == 200
    body = r.json()
    assert body["agent"] == "habit_coach"
    event = CLIENT_EVENT.validate_python({"type": body["type"], "session": body["session"]})
    assert event.type == "session.update"
    assert "habit coach" in body["session"]["instructions"]
    names = {t["name"] for t in body["session"]["tools"]}
    assert "log_habit" in names and "transfer_back_to_luna" in names
    r = await voice.post("/api/realtime/handoff", headers=fam.headers(),
                         json={"tool": "create_task"})
    assert r.status_code == 404


async def test_a_finished_call_is_saved_as_a_web_voice_interaction_with_costs(
    voice: httpx.AsyncClient, fam: Family, services: Services
) -> None:
    usage = {
        "responses": [{"total_tokens": 1300, "input_tokens": 1000, "output_tokens": 300,
                       "input_token_details": {"text_tokens": 800, "audio_tokens": 200,
                                               "cached_tokens": 400,
                                               "cached_tokens_details": {"text_tokens": 400}},
                       "output_token_details": {"text_tokens": 50, "audio_tokens": 250}}],
        "transcriptions": [{"type": "tokens", "input_tokens": 30, "output_tokens": 8,
                            "total_tokens": 38}],
    }
    r = await voice.post("/api/realtime/transcript", headers=fam.headers(), json={
        "transcript": [{"role": "user", "text": "Add milk"},
                       {"role": "assistant", "text": "Milk is on your list."},
                       {"role": "user", "text": "  "}],
        "usage": usage, "tool_calls": [{"name": "create_task", "ok": True, "call_id": "c1"}],
        "duration_s": 33.3,
    })
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["channel"] == "web_voice" and saved["member_id"] == fam.adult_id
    assert saved["transcript"] == [{"role": "user", "text": "Add milk"},
                                   {"role": "assistant", "text": "Milk is on your list."}]
    assert saved["user_message"] == "Add milk"
    assert saved["metadata"]["actions"][0]["tool"] == "create_task"
    me = Actor(household_id=fam.household_id, member_id=fam.adult_id, role="adult")
    created = services.clock.now()
    rows = {u.kind: u for u in await services.interactions.usage_by_member_month(
        me, created.year, created.month)}
    assert rows["realtime_cached_text_input"].quantity == 400
    assert rows["realtime_text_input"].quantity == 400  # cached tokens are not billed twice
    assert rows["realtime_audio_output"].quantity == 250
    assert rows["realtime_audio_output"].cost_usd > 0
    assert "call_minutes" not in rows


@pytest.mark.parametrize("body", [
    {"transcript": []},
    {"transcript": [{"role": "system", "text": "hi"}]},
    {"transcript": [{"role": "user", "text": "x" * 9000}]},
    {"transcript": [{"role": "user", "text": "hi"}], "usage": {"responses": [
        {"input_tokens": -5}]}},
    {"transcript": [{"role": "user", "text": "hi"}], "secret": True},
])
async def test_bad_transcripts_are_refused(
    voice: httpx.AsyncClient, fam: Family, body: dict[str, Any]
) -> None:
    r = await voice.post("/api/realtime/transcript", headers=fam.headers(), json=body)
    assert r.status_code == 422


async def test_a_saved_call_belongs_to_its_household(
    voice: httpx.AsyncClient, fam: Family
) -> None:
    other = await make_family(voice, name="Okafor", phone_prefix="+1555020")
    r = await voice.post("/api/realtime/transcript", headers=fam.headers(),
                         json={"transcript": [{"role": "user", "text": "private"}]})
    call_id = r.json()["id"]
    r = await voice.get(f"/api/interactions/{call_id}", headers=fam.headers())
    assert r.status_code == 200
    r = await voice.get(f"/api/interactions/{call_id}", headers=other.headers())
    assert r.status_code == 404


def test_the_rate_limiter_forgets_old_hits() -> None:
    limiter = RateLimiter(limit=2, window=60)
    limiter.check(1, now=0)
    limiter.check(1, now=10)
    with pytest.raises(LunaError) as caught:
        limiter.check(1, now=59)
    assert caught.value.http_status == 429
    limiter.check(2, now=59)
    limiter.check(1, now=61)
