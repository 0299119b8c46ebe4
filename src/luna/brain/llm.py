"""The chat loop: the model calls tools (several at once), hands off between agents, answers.

`ChatModel` is the seam: `OpenAIChatModel` speaks Chat Completions through the official SDK
(any OpenAI-compatible server via `base_url`); tests point it at `luna.testing.fake_openai`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import openai
import structlog
from openai import AsyncOpenAI

from luna.brain.agents import Agent, agent_chat_tools, agent_instructions, handoff_target
from luna.brain.guard import HONEST_REPLY, REPROMPT_NOTE, unbacked_claim
from luna.brain.recording import action_from
from luna.brain.types import Action, Usage
from luna.config import Settings
from luna.errors import Upstream
from luna.tools.context import ToolContext
from luna.tools.registry import Registry, ToolResult

log = structlog.get_logger(__name__)

Message = dict[str, Any]
OnAction = Callable[[Action], Awaitable[None]]
LOCAL_KEY = "sk-local-no-key"
"""The SDK insists on a key; a local OpenAI-compatible server behind base_url needs none."""

EMPTY_REPLY = "Sorry, I lost my train of thought there. Could you say that again?"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The JSON text exactly as the model sent it."""


@dataclass(frozen=True, slots=True)
class ModelReply:
    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)


class ChatModel(Protocol):
    async def complete(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> ModelReply:
        """One assistant turn for `messages`; raises Upstream when the provider fails."""
        ...


class OpenAIChatModel:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else LOCAL_KEY
        client = AsyncOpenAI(
            api_key=key, base_url=settings.openai_base_url, timeout=settings.llm_timeout_s,
        )
        return cls(client, settings.chat_model)

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> ModelReply:
        extra: dict[str, Any] = {"tools": list(tools), "parallel_tool_calls": True} if tools else {}
        try:
            resp = await self.client.chat.completions.create(
                model=self.model, messages=cast(Any, list(messages)), **extra,
            )
        except openai.APIError as exc:
            raise Upstream(f"the language model failed: {type(exc).__name__}: {exc}") from exc
        if not resp.choices:
            raise Upstream("the language model returned no choices")
        msg = resp.choices[0].message
        calls = tuple(
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
            for c in msg.tool_calls or ()
            if c.type == "function"
        )
        u = resp.usage
        cached = 0
        if u is not None and u.prompt_tokens_details is not None:
            cached = u.prompt_tokens_details.cached_tokens or 0
        usage = Usage(
            input_tokens=u.prompt_tokens if u else 0,
            output_tokens=u.completion_tokens if u else 0,
            cached_tokens=cached, model=resp.model or self.model,
        )
        return ModelReply(text=msg.content, tool_calls=calls, usage=usage)

    async def aclose(self) -> None:
        await self.client.close()


@dataclass
class LoopResult:
    reply: str
    actions: list[Action]
    agents: list[str]
    """The active agent after each switch, starting with the first: ["luna", "habit_coach"]."""
    usage: Usage
    model_calls: int
    guard: str | None = None
    """None, "reprompted" (the second reply was fine) or "replaced" (the honest answer)."""
    failed: bool = False
    """The provider failed mid-turn; `reply` says what got done before that."""

    @property
    def agent(self) -> str:
        return self.agents[-1]


def add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cached_tokens=a.cached_tokens + b.cached_tokens,
        model=b.model or a.model,
    )


class ChatLoop:
    """One member turn against the model, with the tools of whichever agent is active."""

    def __init__(
        self,
        model: ChatModel,
        registry: Registry,
        agents: Mapping[str, Agent],
        *,
        max_tool_rounds: int,
        write_tools: Container[str],
        on_action: OnAction | None = None,
    ) -> None:
        self.model = model
        self.registry = registry
        self.agents = agents
        self.max_tool_rounds = max_tool_rounds
        self.write_tools = write_tools
        self.on_action = on_action

    async def run(
        self, ctx: ToolContext, text: str, *, context: str, start: str = "luna"
    ) -> LoopResult:
        active = self.agents[start]
        messages: list[Message] = [
            {"role": "system", "content": agent_instructions(active, ctx.channel, context)},
            {"role": "user", "content": text},
        ]
        out = LoopResult(reply="", actions=[], agents=[active.name], usage=Usage(),
                         model_calls=0)
        tool_rounds = 0
        while True:
            try:
                reply = await self.model.complete(
                    messages, agent_chat_tools(active, self.registry, self.agents)
                )
            except Upstream:
                if not out.actions:
                    raise
                log.warning("llm_failed_mid_turn", actions=len(out.actions))
                out.failed, out.reply = True, _partial_reply(out.actions, "lost my connection")
                return out
            out.model_calls += 1
            out.usage = add_usage(out.usage, reply.usage)
            if reply.tool_calls:
                if tool_rounds >= self.max_tool_rounds:
                    out.reply = _partial_reply(out.actions, "ran out of steps")
                    return out
                tool_rounds += 1
                messages.append(_assistant_calls(reply))
                switch = await self._run_calls(ctx, active, reply.tool_calls, messages, out)
                if switch is not None:
                    active = self.agents[switch]
                    out.agents.append(active.name)
                    messages[0] = {"role": "system",
                                   "content": agent_instructions(active, ctx.channel, context)}
                continue
            answer = (reply.text or "").strip()
            if unbacked_claim(answer, out.actions, self.write_tools):
                if out.guard is None:
                    out.guard = "reprompted"
                    messages.append({"role": "assistant", "content": answer})
                    messages.append({"role": "system", "content": REPROMPT_NOTE})
                    continue
                out.guard, answer = "replaced", HONEST_REPLY
            out.reply = answer or EMPTY_REPLY
            return out

    async def _run_calls(
        self,
        ctx: ToolContext,
        active: Agent,
        calls: Sequence[ToolCall],
        messages: list[Message],
        out: LoopResult,
    ) -> str | None:
        """Run one round's calls concurrently; the tool messages go back in the calls' order.

        Returns the agent to switch to when a handoff was called (the first one wins).
        """
        switch: str | None = None
        pending: list[Awaitable[ToolResult]] = []
        slots: list[int] = []
        results: list[ToolResult | None] = [None] * len(calls)
        for i, call in enumerate(calls):
            target = handoff_target(call.name)
            if target is not None:
                res = self._handoff(active, target, call, switch)
                if res.ok:
                    switch = target
                results[i] = res
            elif call.name not in active.tool_names:
                results[i] = ToolResult(
                    call.name, ok=False, error="not_available",
                    detail=f"{call.name} is not one of {active.name}'s tools; use another or "
                           "hand the conversation over",
                )
            else:
                pending.append(self.registry.invoke(call.name, ctx, call.arguments))
                slots.append(i)
        for i, done in zip(slots, await asyncio.gather(*pending), strict=True):
            results[i] = done
        for i, call in enumerate(calls):
            got = results[i]
            assert got is not None
            action = action_from(call.name, call.arguments, got)
            out.actions.append(action)
            if i not in slots and self.on_action is not None:
                await self.on_action(action)  # registry calls were reported as they finished
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": got.to_model_content()}
            )
        return switch

    def _handoff(
        self, active: Agent, target: str, call: ToolCall, already: str | None
    ) -> ToolResult:
        if target not in active.handoffs or target not in self.agents:
            return ToolResult(call.name, ok=False, error="not_available",
                              detail=f"{active.name} cannot hand over to {target}")
        if already is not None:
            return ToolResult(call.name, ok=False, error="ignored",
                              detail=f"already handing over to {already}; one handoff at a time")
        return ToolResult(call.name, ok=True, data={"agent": target,
                                                    "note": f"You are now {target}."})


def _assistant_calls(reply: ModelReply) -> Message:
    return {
        "role": "assistant",
        "content": reply.text,
        "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ],
    }


def _partial_reply(actions: Sequence[Action], why: str) -> str:
    done = [a.tool.replace("_", " ") for a in actions if a.ok and handoff_target(a.tool) is None]
    if not done:
        return f"Sorry, I {why} before I could finish. Could you try again?"
    return f"I did this much: {', '.join(done)}. Then I {why} — want me to keep going?"
