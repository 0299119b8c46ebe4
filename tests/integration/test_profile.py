"""The profile memory tool: learnings merge into the member's ai_context, never overwrite it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import Family


async def call_tool(
    client: httpx.AsyncClient, fam: Family, tool: str, who: str = "adult",
    member_id: int | None = None, **arguments: Any,
) -> dict[str, Any]:
    r = await client.post(f"/api/tools/{tool}", json={"member_id": member_id,
                                                     "arguments": arguments},
                          headers=fam.headers(who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_update_user_profile_deduplicates_lists_across_two_calls(
    client: httpx.AsyncClient, family: Family
) -> None:
    first = await call_tool(client, family, "update_user_profile", interests=["Hiking", "chess"],
                            challenges=["mornings"], personality="curious",
                            notes="has a dog named Rex")
    assert first["ok"] is True, first
    second = await call_tool(client, family, "update_user_profile",
                             interests=[" hiking", "Jazz", "CHESS"], values=["family"],
                             recent_wins=["ran 5 km"], communication_style="short and warm",
                             notes="works night shifts")
    assert second["ok"] is True, second
    ctx = second["result"]["ai_context"]
    learning = ctx["learning_data"]
    assert learning["interests"] == ["Hiking", "chess", "Jazz"]
    assert learning["challenges"] == ["mornings"]
    assert learning["values"] == ["family"]
    assert learning["recent_wins"] == ["ran 5 km"]
    assert learning["communication_style"] == "short and warm"
    assert learning["notes"] == "has a dog named Rex\nworks night shifts"
    assert ctx["personality"] == "curious"

    r = await client.get(f"/api/members/{family.adult_id}", headers=family.headers())
    assert r.json()["ai_context"] == ctx


async def test_update_user_profile_sets_name_timezone_and_onboarded(
    client: httpx.AsyncClient, family: Family
) -> None:
    out = await call_tool(client, family, "update_user_profile", name="Maya R.",
                          timezone="America/Chicago", onboarded=True)
    assert out["ok"] is True, out
    assert out["result"]["name"] == "Maya R."
    assert out["result"]["timezone"] == "America/Chicago"
    assert out["result"]["onboarded"] is True
    r = await client.get(f"/api/members/{family.adult_id}", headers=family.headers())
    assert (r.json()["name"], r.json()["timezone"]) == ("Maya R.", "America/Chicago")
    unchanged = await call_tool(client, family, "update_user_profile")
    assert unchanged["ok"] is True and unchanged["result"]["name"] == "Maya R."


async def test_update_user_profile_errors_are_results(
    client: httpx.AsyncClient, family: Family
) -> None:
    bad_zone = await call_tool(client, family, "update_user_profile", timezone="Mars/Olympus")
    assert bad_zone["ok"] is False and bad_zone["error"] == "invalid_input"
    blank = await call_tool(client, family, "update_user_profile", name="  ")
    assert blank["ok"] is False and blank["error"] == "invalid_input"
    wrong_type = await call_tool(client, family, "update_user_profile", interests="chess")
    assert wrong_type["ok"] is False and wrong_type["error"] == "invalid_arguments"


async def test_an_adult_may_update_the_childs_profile_but_not_the_reverse(
    client: httpx.AsyncClient, family: Family
) -> None:
    out = await call_tool(client, family, "update_user_profile", member_id=family.child_id,
                          interests=["dinosaurs"])
    assert out["ok"] is True
    assert out["result"]["ai_context"]["learning_data"]["interests"] == ["dinosaurs"]
    r = await client.post("/api/tools/update_user_profile", headers=family.headers("child"),
                          json={"member_id": family.adult_id, "arguments": {"name": "x"}})
    assert r.status_code == 403
    mine = await call_tool(client, family, "update_user_profile", who="child",
                           interests=["Dinosaurs", "lego"])
    assert mine["result"]["ai_context"]["learning_data"]["interests"] == ["dinosaurs", "lego"]


async def test_another_household_gets_404_for_our_members_profile(
    client: httpx.AsyncClient, family: Family, other_family: Family
) -> None:
    r = await client.post("/api/tools/update_user_profile", headers=other_family.headers(),
                          json={"member_id": family.adult_id,
                                "arguments": {"interests": ["spying"]}})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await client.get(f"/api/members/{family.adult_id}", headers=family.headers())
    assert r.json()["ai_context"]["learning_data"]["interests"] == []
