"""converse(): the LLM agent through the real openai SDK against a scripted local server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from openai import AsyncOpenAI

from luna.brain.agents import Agent, agent_realtime_session, build_agents
from luna.brain.converse import FALLBACK_REPLY, Brain
from luna.brain.guard import HONEST_REPLY, REPROMPT_NOTE
from luna.brain.llm import ChatLoop, OpenAIChatModel
from luna.brain.types import ConversationInput
from luna.config import load_settings
from luna.errors import Unavailable
from luna.services.access import ADMIN, Actor
from luna.services.container import Services
from luna.services.members import MemberOut
from luna.testing.clock import FrozenClock
from luna.testing.fake_openai import FakeOpenAI, Step, call, calls, reply
from luna.tools import catalog
from luna.tools.context import ToolContext
from luna.tools.registry import Registry
from tests.conftest import Family


def actor_of(m: MemberOut) -> Actor:
    return Actor(household_id=m.household_id, member_id=m.id,
                 role="child" if m.role == "child" else "adult")


@asynccontextmanager
async def llm_brain(
    services: Services, script: list[Step], **overrides: Any
) -> AsyncIterator[tuple[Brain, FakeOpenAI]]:
    fake = FakeOpenAI(script)
    async with fake as base_url:
        settings = load_settings(env="test", database_url="sqlite+aiosqlite://",
                                 openai_base_url=base_url, **{"brain_mode": "llm_only",
                                                              **overrides})
        brain = Brain(services, catalog.load(), settings)
        try:
            yield brain, fake
        finally:
            await brain.aclose()


async def adult(services: Services, family: Family) -> MemberOut:
    return await services.members.get(ADMIN, family.adult_id)


def say(member: MemberOut, text: str, channel: Any = "web_chat",
        external_id: str | None = None) -> ConversationInput:
    return ConversationInput(member=member, channel=channel, text=text, external_id=external_id)


def tool_names(request: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools", [])}


async def test_parallel_tool_calls_all_run_and_their_results_go_back_in_call_order(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [
        calls(call("create_task", title="Buy milk"),
              call("log_habit", habit="meditate"),
              call("update_daily_metrics", mood=7, energy=6)),
        reply("Milk's on the list, meditation logged, and you're feeling good today."),
    ]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "add milk, I meditated, mood 7 energy 6"))
    fake.assert_complete()
    assert [a.tool for a in result.actions] == ["create_task", "log_habit",
                                                "update_daily_metrics"]
    assert all(a.ok for a in result.actions)
    assert result.handled_by == "llm"
    first, second = fake.requests
    assert first["parallel_tool_calls"] is True
    assert first["model"] == "gpt-4o-mini"
    assert first["messages"][0]["role"] == "system"
    assert "You are Luna" in first["messages"][0]["content"]
    assert "Maya" in first["messages"][0]["content"]
    assert {"create_task", "undo_last_action", "transfer_to_habit_coach"} <= tool_names(first)
    assistant = second["messages"][2]
    ids = [c["id"] for c in assistant["tool_calls"]]
    tool_msgs = second["messages"][3:]
    assert [m["tool_call_id"] for m in tool_msgs] == ids
    assert all(m["role"] == "tool" and '"ok": true' in m["content"] for m in tool_msgs)
    tasks = await services.tasks.list(actor_of(me), member_id=me.id)
    assert [t.title for t in tasks] == ["Buy milk"]
    today = await services.checkins.today(actor_of(me), me.id)
    assert today is not None and (today.mood, today.energy) == (7, 6)


async def test_one_rounds_tool_calls_run_concurrently(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    started = {"a": asyncio.Event(), "b": asyncio.Event()}
    reg = Registry()

    @reg.tool(writes=False)
    async def wait_for_other(ctx: ToolContext, name: str) -> dict[str, str]:
        """Start, then wait until the other call has started too.

        Args:
            name: a or b.
        """
        started[name].set()
        other = "b" if name == "a" else "a"
        await asyncio.wait_for(started[other].wait(), timeout=2)
        return {"done": name}

    agents = {"luna": Agent("luna", "Test agent.", ("wait_for_other",), ())}
    fake = FakeOpenAI([
        calls(call("wait_for_other", name="a"), call("wait_for_other", name="b")),
        reply("Both finished."),
    ])
    async with fake as base_url:
        model = OpenAIChatModel(AsyncOpenAI(api_key="sk-test", base_url=base_url), "m")
        loop = ChatLoop(model, reg, agents, max_tool_rounds=3, write_tools=set())
        run = await loop.run(ToolContext(services, me, "web_chat"), "go", context="")
        await model.aclose()
    fake.assert_complete()
    assert [(a.ok, a.result) for a in run.actions] == [(True, {"done": "a"}),
                                                        (True, {"done": "b"})]
    assert run.reply == "Both finished."


async def test_a_handoff_switches_instructions_and_tools_then_comes_back_to_luna(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [
        calls(call("transfer_to_habit_coach", reason="wants a meditation habit")),
        calls(call("create_task", title="Sneaky")),  # not a habit coach tool
        calls(call("log_habit", habit="meditate", value=10)),
        calls(call("transfer_back_to_luna")),
        reply("Ten minutes of calm, lovely! Anything else for today?"),
    ]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "help me stick with meditating, did 10 min"))
    fake.assert_complete()
    r1, r2, r3, r4, r5 = fake.requests
    assert "habit coach" not in r1["messages"][0]["content"]
    assert "You are Luna's habit coach" in r2["messages"][0]["content"]
    assert "You are Luna" in r2["messages"][0]["content"]  # the persona stays
    assert tool_names(r2) == {"log_habit", "get_habit_summary", "update_daily_metrics",
                              "undo_last_action", "transfer_back_to_luna"}
    assert '"not_available"' in r3["messages"][-1]["content"]
    assert "transfer_to_habit_coach" in tool_names(r5)
    assert "habit coach" not in r5["messages"][0]["content"]
    assert [a.tool for a in result.actions] == [
        "transfer_to_habit_coach", "create_task", "log_habit", "transfer_back_to_luna"]
    assert [a.ok for a in result.actions] == [True, False, True, True]
    assert result.handled_by == "llm"
    assert await services.tasks.list(actor_of(me), member_id=me.id) == []
    stored = await services.interactions.get(actor_of(me), result.interaction_id or 0)
    assert stored.metadata["agents"] == ["luna", "habit_coach", "luna"]


async def test_a_turn_that_ends_with_a_specialist_is_handled_by_it(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [calls(call("transfer_to_goal_strategist")), reply("What would success look like?")]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "I want to get fit this year"))
    fake.assert_complete()
    assert result.handled_by == "goal_strategist"


async def test_the_model_recovers_from_a_tool_error(services: Services, family: Family) -> None:
    me = await adult(services, family)
    await services.tasks.create(actor_of(me), title="Buy milk", member_id=me.id)
    script = [
        calls(call("complete_task", task="file the taxes")),
        calls(call("get_tasks")),
        reply("I couldn't find a taxes task. Your open one is “Buy milk” — was it that?"),
    ]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "done with the taxes"))
    fake.assert_complete()
    error_msg = fake.requests[1]["messages"][-1]
    assert error_msg["role"] == "tool"
    assert '"ok": false' in error_msg["content"] and "not_found" in error_msg["content"]
    assert '"Buy milk"' in fake.requests[2]["messages"][-1]["content"]
    assert [(a.tool, a.ok, a.error) for a in result.actions] == [
        ("complete_task", False, "not_found"), ("get_tasks", True, None)]
    assert result.reply.startswith("I couldn't find a taxes task")


async def test_the_guard_reprompts_a_false_claim_then_answers_honestly(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [reply("I've added it to your list!"), reply("Done! It's on your list.")]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "add dentist to my list"))
    fake.assert_complete()
    assert result.reply == HONEST_REPLY
    second = fake.requests[1]["messages"]
    assert second[-2] == {"role": "assistant", "content": "I've added it to your list!"}
    assert second[-1] == {"role": "system", "content": REPROMPT_NOTE}
    stored = await services.interactions.get(actor_of(me), result.interaction_id or 0)
    assert stored.metadata["guard"] == "replaced"
    assert stored.assistant_response == HONEST_REPLY


async def test_after_the_reprompt_a_real_tool_call_backs_the_claim(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [
        reply("I've added the dentist!"),
        calls(call("create_task", title="Call the dentist")),
        reply("I've added “Call the dentist” to your list."),
    ]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "add call the dentist"))
    fake.assert_complete()
    assert result.reply == "I've added “Call the dentist” to your list."
    assert [t.title for t in await services.tasks.list(actor_of(me), member_id=me.id)] == [
        "Call the dentist"]


async def test_interactions_record_who_answered_the_actions_and_the_usage(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    usage = {"prompt_tokens": 1000, "completion_tokens": 200, "cached_tokens": 400}
    script = [calls(call("create_task", title="Buy milk"), usage=usage),
              reply("Milk is on your list!", usage=usage)]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "add milk", channel="sms", external_id="SM123"))
    fake.assert_complete()
    assert (result.usage.input_tokens, result.usage.output_tokens,
            result.usage.cached_tokens) == (2000, 400, 800)
    [row] = await services.interactions.list(actor_of(me))
    assert row.id == result.interaction_id
    assert (row.channel, row.user_message, row.assistant_response) == (
        "sms", "add milk", "Milk is on your list!")
    meta = row.metadata
    assert meta["handled_by"] == "llm"
    assert meta["intent"] is None
    assert [a["tool"] for a in meta["actions"]] == ["create_task"]
    assert meta["actions"][0]["result"]["title"] == "Buy milk"
    assert meta["usage"] == {"prompt_tokens": 2000, "completion_tokens": 400,
                             "cached_tokens": 800, "model": "gpt-4o-mini"}
    totals = {u.kind: u for u in await services.interactions.usage_by_member_month(
        actor_of(me), 2026, 3)}
    assert totals["chat_input_tokens"].quantity == 2000
    assert abs(totals["chat_input_tokens"].cost_usd - 2000 * 0.15 / 1e6) < 1e-9
    assert abs(totals["chat_output_tokens"].cost_usd - 400 * 0.6 / 1e6) < 1e-9
    # The SMS layer's exactly-once check reads the SID stored with the turn.
    async with llm_brain(services, [reply("Hi again!")]) as (brain, _):
        again = await brain.converse(say(me, "add milk", channel="sms", external_id="SM123"))
    assert again.interaction_id is None  # already recorded: the answer still comes back


async def test_recent_conversations_go_into_the_models_context(
    services: Services, family: Family, clock: FrozenClock
) -> None:
    me = await adult(services, family)
    await services.interactions.record(me.household_id, me.id, "sms", "inbound",
                                       "I ran 5k this morning", "Amazing, well done!")
    clock.advance(timedelta(minutes=30))
    async with llm_brain(services, [reply("You ran 5k earlier, how do your legs feel?")]) as (
        brain, fake
    ):
        await brain.converse(say(me, "what did I do today?"))
    system = fake.requests[0]["messages"][0]["content"]
    assert "I ran 5k this morning" in system
    assert "Wednesday 04 March 2026, 11:00 (America/New_York)" in system


async def test_local_only_mode_never_calls_the_model(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    async with llm_brain(services, [], brain_mode="local_only") as (brain, fake):
        result = await brain.converse(say(me, "xyzzy plugh frobnicate"))
    assert fake.requests == []
    fake.assert_complete()
    assert result.handled_by == "fallback"
    assert result.reply == FALLBACK_REPLY


async def test_without_a_key_or_base_url_luna_falls_back_to_a_helpful_reply(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    settings = load_settings(env="test", database_url="sqlite+aiosqlite://")
    brain = Brain(services, catalog.load(), settings)
    assert brain.mode == "local_only" and brain.chat_model is None
    result = await brain.converse(say(me, "xyzzy plugh frobnicate", channel="sms"))
    assert result.handled_by == "fallback"
    assert "what's on today?" in result.reply and len(result.reply) < 160
    [row] = await services.interactions.list(actor_of(me))
    assert row.metadata["handled_by"] == "fallback"


async def test_a_provider_failure_falls_back_without_inventing_anything(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    async with llm_brain(services, [Step(status=400)]) as (brain, fake):
        result = await brain.converse(say(me, "plan my week"))
    fake.assert_complete()
    assert result.handled_by == "fallback"
    assert result.actions == []


async def test_undo_reverses_a_task_created_through_converse_and_refuses_after_ten_minutes(
    services: Services, family: Family, clock: FrozenClock
) -> None:
    me = await adult(services, family)
    script = [
        calls(call("create_task", title="Buy milk")), reply("Milk is on your list."),
        calls(call("undo_last_action")), reply("Undone, milk is off the list."),
        calls(call("create_task", title="Call mom")), reply("Call mom is on your list."),
        calls(call("undo_last_action")), reply("Sorry, that was too long ago to undo."),
    ]
    async with llm_brain(services, script) as (brain, fake):
        await brain.converse(say(me, "add buy milk"))
        assert len(await services.tasks.list(actor_of(me), member_id=me.id)) == 1
        undo = await brain.converse(say(me, "undo that"))
        assert undo.actions[0].ok, undo.actions[0]
        assert "Buy milk" in undo.actions[0].result["message"]
        assert await services.tasks.list(actor_of(me), member_id=me.id) == []
        await brain.converse(say(me, "add call mom"))
        clock.advance(timedelta(minutes=11))
        late = await brain.converse(say(me, "undo that"))
    fake.assert_complete()
    assert (late.actions[0].ok, late.actions[0].error) == (False, "conflict")
    assert "10 minutes" in (late.actions[0].detail or "")
    assert [t.title for t in await services.tasks.list(actor_of(me), member_id=me.id)] == [
        "Call mom"]


async def test_realtime_session_shape_comes_from_the_same_agent_definition(
    services: Services,
) -> None:
    registry = catalog.load()
    agents = build_agents(registry)
    session = agent_realtime_session(agents["habit_coach"], registry, context="Talking to Maya.")
    assert session["instructions"].endswith("Talking to Maya.")
    assert "phone call" in session["instructions"]
    names = [t["name"] for t in session["tools"]]
    assert names[-1] == "transfer_back_to_luna"
    back = session["tools"][-1]
    assert back["type"] == "function"
    assert back["parameters"]["required"] == ["reason"]
    assert back["parameters"]["additionalProperties"] is False


async def test_the_tool_round_cap_stops_a_looping_model_and_says_what_got_done(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [calls(call("create_task", title="Step one")),
              calls(call("create_task", title="Step two"))]
    async with llm_brain(services, script, chat_max_tool_rounds=1) as (brain, fake):
        result = await brain.converse(say(me, "plan everything"))
    fake.assert_complete()
    assert result.reply.startswith("I did this much: create task.")
    assert [t.title for t in await services.tasks.list(actor_of(me), member_id=me.id)] == [
        "Step one"]


async def test_a_provider_failure_mid_turn_keeps_what_was_done(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    script = [calls(call("create_task", title="Buy milk")), Step(status=400)]
    async with llm_brain(services, script) as (brain, fake):
        result = await brain.converse(say(me, "add milk"))
    fake.assert_complete()
    assert result.handled_by == "llm" and [a.tool for a in result.actions] == ["create_task"]
    assert "lost my connection" in result.reply
    stored = await services.interactions.get(actor_of(me), result.interaction_id or 0)
    assert stored.metadata["error"] == "upstream_mid_turn"


async def test_local_first_answers_simple_requests_without_the_model_and_logs_them_for_undo(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    async with llm_brain(services, [], brain_mode="local_first") as (brain, fake):
        result = await brain.converse(say(me, "add buy milk to my list"))
        assert result.handled_by == "local", result
        assert [a.tool for a in result.actions] == ["create_task"]
        [logged] = await services.actions.recent(actor_of(me))
        assert logged.tool == "create_task"
        row = await services.interactions.get(actor_of(me), result.interaction_id or 0)
        assert row.metadata["handled_by"] == "local" and row.metadata["intent"]
    assert fake.requests == []
    res = await catalog.load().invoke("undo_last_action", ToolContext(services, me, "sms"), {})
    assert res.ok, res
    assert await services.tasks.list(actor_of(me), member_id=me.id) == []


async def test_undo_within_a_turn_takes_back_that_turns_own_write(
    services: Services, family: Family
) -> None:
    # A turn's log entries are filed with its Interaction at the end; an undo inside the turn
    # must still see the write made just before it, not the previous turn's.
    me = await adult(services, family)
    script = [
        calls(call("create_task", title="Call mom")), reply("Call mom is on your list."),
        calls(call("create_task", title="Buy milk")), calls(call("undo_last_action")),
        reply("I added it and took it back."),
    ]
    async with llm_brain(services, script) as (brain, fake):
        await brain.converse(say(me, "add call mom"))
        result = await brain.converse(say(me, "add buy milk, no wait, undo that"))
    fake.assert_complete()
    assert [a.tool for a in result.actions] == ["create_task", "undo_last_action"]
    assert "Buy milk" in result.actions[1].result["message"]
    assert [t.title for t in await services.tasks.list(actor_of(me), member_id=me.id)] == [
        "Call mom"]


async def test_a_turn_whose_interaction_is_not_filed_still_logs_its_writes_for_undo(
    services: Services, family: Family
) -> None:
    me = await adult(services, family)
    async with llm_brain(services, [], brain_mode="local_only") as (brain, _):
        await brain.converse(say(me, "add buy milk to my list", "sms", external_id="SM1"))
        # The same Twilio sid again: its Interaction is a Conflict and is not filed.
        again = await brain.converse(say(me, "add eggs to my list", "sms", external_id="SM1"))
    assert again.interaction_id is None and again.actions[0].ok
    assert [a.summary for a in await services.actions.recent(actor_of(me))] == [
        "added the task “Eggs”", "added the task “Buy milk”"]
    assert len(await services.interactions.list(actor_of(me))) == 1


class _Overloaded:
    """A grammar brain whose database is out of connections."""

    async def handle(self, ctx: ToolContext, registry: Any, text: str) -> None:
        raise Unavailable("Luna is very busy right now; please try again in a moment")


async def test_an_overloaded_database_is_not_answered_as_a_text_not_understood(
    services: Services, family: Family
) -> None:
    """The channel says "try again" (SMS: its trouble reply; HTTP: 503); the fallback's "I
    didn't catch that" would tell the member their words were the problem."""
    me = await adult(services, family)
    settings = load_settings(env="test", brain_mode="local_only")
    brain = Brain(services, catalog.load(settings), settings, local=_Overloaded())
    with pytest.raises(Unavailable):
        await brain.converse(say(me, "what's on today?"))
