"""Family messages and the SMS outbox, through the tools and the REST API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from luna.errors import InvalidInput, NotFound
from luna.services.access import Actor
from luna.services.container import Services
from tests.conftest import Family


async def tool(client: httpx.AsyncClient, family: Family, name: str, who: str = "adult",
               **arguments: object) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{name}", json={"arguments": arguments},
                          headers=family.headers(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def messages(client: httpx.AsyncClient, family: Family, who: str = "adult",
                   **params: str) -> list[dict[str, Any]]:
    r = await client.get("/api/messages", params=params, headers=family.headers(who))
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def test_family_message_creates_the_message_and_an_outbox_sms(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "send_family_message", to=["Ava"], body="Dinner at 6!")
    assert res["ok"] is True, res
    result = res["result"]
    assert result["message"]["kind"] == "family" and result["message"]["status"] == "sent"
    assert result["deliveries"][0]["status"] == "outbox"
    family_msgs = await messages(client, family, kind="family")
    assert [m["body"] for m in family_msgs] == ["Dinner at 6!"]
    assert family_msgs[0]["to_member_ids"] == [family.child_id]
    sms = await messages(client, family, kind="sms")
    assert len(sms) == 1
    assert sms[0]["status"] == "outbox" and sms[0]["to_phone"] == "+15550100002"
    assert sms[0]["body"] == "Maya: Dinner at 6!"
    # The child is a recipient, so the child sees both rows too.
    assert len(await messages(client, family, who="child")) == 2


async def test_message_to_an_opted_out_member_is_suppressed_without_sms(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.patch(f"/api/members/{family.child_id}", json={"sms_opt_out": True},
                           headers=family.headers())
    assert r.status_code == 200, r.text
    res = await tool(client, family, "send_family_message", to=["ava"], body="Homework?")
    assert res["ok"] is True, res
    assert res["result"]["deliveries"][0]["status"] == "suppressed"
    assert res["result"]["deliveries"][0]["sms_id"] is None
    assert await messages(client, family, kind="sms") == []
    assert len(await messages(client, family, kind="family")) == 1


async def test_everyone_means_all_other_members_and_no_phone_is_reported(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "send_family_message", to=["everyone"], body="Movie night")
    assert res["ok"] is True, res
    statuses = {d["name"]: d["status"] for d in res["result"]["deliveries"]}
    assert statuses == {"Ava": "outbox", "Ben": "no_phone"}


async def test_message_to_a_name_from_another_household_is_an_error_result(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await client.post("/api/members", json={"name": "Priya"},
                          headers=other_family.headers())
    assert r.status_code == 201
    res = await tool(client, family, "send_family_message", to=["Priya"], body="Hi")
    assert res["ok"] is False and res["error"] == "not_found"
    assert await messages(client, family) == []
    assert await messages(client, other_family) == []


async def test_message_bad_bodies_and_self_are_error_results(
    client: httpx.AsyncClient, family: Family
) -> None:
    res = await tool(client, family, "send_family_message", to=["Ben"], body="   ")
    assert res["ok"] is False and res["error"] == "invalid_input"
    res = await tool(client, family, "send_family_message", to=["Ben"], body="x" * 1601)
    assert res["ok"] is False and res["error"] == "invalid_input"
    res = await tool(client, family, "send_family_message", to=["me"], body="Note to self")
    assert res["ok"] is False and res["error"] == "invalid_input"


async def test_service_rejects_recipients_outside_the_household(
    services: Services, client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    actor = Actor(household_id=family.household_id, member_id=family.adult_id, role="adult")
    with pytest.raises(NotFound):
        await services.messages.send_family_message(actor, [other_family.child_id], "Hi")
    with pytest.raises(InvalidInput):
        await services.messages.send_family_message(actor, [], "Hi")


async def test_queue_sms_goes_to_the_outbox_unless_opted_out(
    services: Services, client: httpx.AsyncClient, family: Family
) -> None:
    out = await services.messages.queue_sms(family.household_id, family.child_id,
                                            "(555) 010-0002", "Reminder: piano")
    assert out.status == "outbox" and out.to_phone == "+15550100002" and out.kind == "sms"
    await client.patch(f"/api/members/{family.child_id}", json={"sms_opt_out": True},
                       headers=family.headers())
    out = await services.messages.queue_sms(family.household_id, family.child_id,
                                            "+15550100002", "Reminder: piano")
    assert out.status == "suppressed"
    with pytest.raises(InvalidInput):
        await services.messages.queue_sms(family.household_id, None, "12", "x")


async def test_a_child_sees_only_messages_from_or_to_them(
    client: httpx.AsyncClient, family: Family
) -> None:
    await tool(client, family, "send_family_message", to=["Ben"], body="Adults only")
    res = await tool(client, family, "send_family_message", who="child", to=["mom", "Maya"],
                     body="Can I go out?")
    assert res["ok"] is False and res["error"] == "not_found"  # nobody is called "mom"
    res = await tool(client, family, "send_family_message", who="child", to=["Maya"],
                     body="Can I go out?")
    assert res["ok"] is True, res
    mine = await messages(client, family, who="child")
    assert [m["body"] for m in mine] == ["Ava: Can I go out?", "Can I go out?"]  # SMS, family
    assert len(await messages(client, family, kind="family")) == 2
