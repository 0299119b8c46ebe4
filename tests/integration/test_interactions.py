"""Conversation history and usage totals, recorded by the service and read over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from luna.errors import Conflict, NotFound
from luna.services.access import ADMIN
from luna.services.container import Services
from luna.testing.clock import FrozenClock
from tests.conftest import Family


async def get(client: httpx.AsyncClient, family: Family, path: str, who: str = "adult",
              **params: object) -> Any:
    r = await client.get(path, params=params, headers=family.headers(who))
    assert r.status_code == 200, r.text
    return r.json()


async def test_recorded_interactions_list_newest_first_and_filter_by_channel(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    rec = services.interactions.record
    await rec(family.household_id, family.adult_id, "sms", "inbound", "add milk", "Added milk.",
              twilio_sid="SM1")
    clock.advance(timedelta(minutes=5))
    await rec(family.household_id, family.adult_id, "voice", "inbound", "what's on today",
              "You have soccer at 5.", transcript=[{"role": "user", "text": "what's on today"}],
              metadata={"call_seconds": 42})
    rows = await get(client, family, "/api/interactions")
    assert [r["channel"] for r in rows] == ["voice", "sms"]
    voice = await get(client, family, "/api/interactions", channel="voice")
    assert len(voice) == 1 and voice[0]["metadata"] == {"call_seconds": 42}
    assert voice[0]["transcript"] == [{"role": "user", "text": "what's on today"}]
    one = await get(client, family, f"/api/interactions/{voice[0]['id']}")
    assert one["assistant_response"] == "You have soccer at 5."
    assert one["created_at"] == "2026-03-04T10:35:00-05:00"


async def test_duplicate_twilio_sid_is_a_conflict(
    services: Services, client: httpx.AsyncClient, family: Family
) -> None:
    rec = services.interactions.record
    await rec(family.household_id, family.adult_id, "sms", "inbound", "hi", "Hello!",
              twilio_sid="SMdup")
    with pytest.raises(Conflict):
        await rec(family.household_id, family.adult_id, "sms", "inbound", "hi", "Hello!",
                  twilio_sid="SMdup")
    assert len(await get(client, family, "/api/interactions")) == 1


async def test_a_member_of_another_household_cannot_be_recorded(
    services: Services, client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    with pytest.raises(NotFound):
        await services.interactions.record(family.household_id, other_family.adult_id, "sms",
                                           "inbound", "hi", None)


async def test_child_sees_only_their_own_interactions(
    services: Services, client: httpx.AsyncClient, family: Family
) -> None:
    rec = services.interactions.record
    adult = await rec(family.household_id, family.adult_id, "web_chat", "inbound", "a", "b")
    await rec(family.household_id, family.child_id, "web_chat", "inbound", "c", "d")
    rows = await get(client, family, "/api/interactions", who="child")
    assert [r["member_id"] for r in rows] == [family.child_id]
    r = await client.get(f"/api/interactions/{adult.id}", headers=family.headers("child"))
    assert r.status_code == 403
    r = await client.get("/api/interactions", params={"member_id": family.adult_id},
                         headers=family.headers("child"))
    assert r.status_code == 403


async def test_other_household_gets_404_for_interactions_and_sees_nothing(
    services: Services, client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    row = await services.interactions.record(family.household_id, family.adult_id, "sms",
                                             "inbound", "secret", "ok",
                                             usage=[("llm_tokens", 100, "tokens", 0.01)])
    h = other_family.headers()
    assert (await client.get(f"/api/interactions/{row.id}", headers=h)).status_code == 404
    r = await client.get("/api/interactions", params={"member_id": family.adult_id}, headers=h)
    assert r.status_code == 404
    assert await get(client, other_family, "/api/interactions") == []
    assert await get(client, other_family, "/api/usage") == []


async def test_usage_totals_per_member_and_kind_for_a_month(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    rec = services.interactions.record
    tokens = ("llm_tokens", 1200, "tokens", 0.012)
    await rec(family.household_id, family.adult_id, "sms", "inbound", "a", "b",
              usage=[tokens, ("sms_segments", 2, "segments", 0.0158)])
    await rec(family.household_id, family.adult_id, "sms", "inbound", "c", "d", usage=[tokens])
    await rec(family.household_id, family.child_id, "voice", "inbound", "e", "f",
              usage=[("voice_minutes", 3.5, "minutes", 0.07)])
    clock.advance(timedelta(days=30))  # April
    await rec(family.household_id, family.adult_id, "sms", "inbound", "g", "h", usage=[tokens])
    march = await get(client, family, "/api/usage", year=2026, month=3)
    totals = {(u["member_id"], u["kind"]): (u["quantity"], u["cost_usd"]) for u in march}
    assert totals == {
        (family.adult_id, "llm_tokens"): (2400.0, pytest.approx(0.024)),
        (family.adult_id, "sms_segments"): (2.0, pytest.approx(0.0158)),
        (family.child_id, "voice_minutes"): (3.5, pytest.approx(0.07)),
    }
    april = await get(client, family, "/api/usage")  # default: this month
    assert [(u["kind"], u["quantity"]) for u in april] == [("llm_tokens", 1200.0)]
    child = await get(client, family, "/api/usage", who="child", year=2026, month=3)
    assert [u["member_id"] for u in child] == [family.child_id]
    r = await client.get("/api/usage", params={"month": 13}, headers=family.headers())
    assert r.status_code == 422


async def test_recent_summary_is_short_chronological_lines(
    services: Services, client: httpx.AsyncClient, family: Family, clock: FrozenClock
) -> None:
    rec = services.interactions.record
    for i in range(7):
        await rec(family.household_id, family.adult_id, "sms", "inbound", f"message {i}",
                  "ok " + "x" * 300)
        clock.advance(timedelta(minutes=1))
    lines = await services.interactions.recent_summary(family.adult_id, limit=3)
    assert len(lines) == 3
    assert "message 4" in lines[0] and "message 6" in lines[2]
    assert lines[0].startswith("Wed 04 Mar 10:34 (sms)")
    assert all(len(line) < 400 for line in lines)
    # A caller holding the member passes their timezone and gets the same lines.
    member = await services.members.get(ADMIN, family.adult_id)
    assert await services.interactions.recent_summary(
        family.adult_id, limit=3, tz=member.timezone) == lines
