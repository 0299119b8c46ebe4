"""`Brain.converse()`: one member turn on any channel, local grammar first, then the LLM.

Every turn is recorded as an Interaction (what was said, who answered, the tool calls, the
tokens and their cost), and every successful write as an ActionLog row for "undo that".
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any, Protocol, cast

import structlog

from luna.brain.agents import LUNA, build_agents
from luna.brain.llm import ChatLoop, ChatModel, LoopResult, OnAction, OpenAIChatModel
from luna.brain.local.engine import LocalBrain, LocalOutcome
from luna.brain.persona import member_context
from luna.brain.recording import TurnRegistry
from luna.brain.types import ConversationInput, ConversationResult, Usage
from luna.config import BrainMode, Settings
from luna.errors import LunaError, Unavailable, Upstream
from luna.services.container import Services
from luna.services.interactions import CHANNELS, Channel, UsageItem
from luna.tools.context import ToolContext
from luna.tools.registry import Registry

log = structlog.get_logger(__name__)

RECENT_TURNS = 6
TWILIO_CHANNELS = ("sms", "voice")

FALLBACK_REPLY = (
    "I didn't quite catch that. I can add and check off tasks, log habits, track goals, note "
    "how your day is going, keep the family's chores and calendar, and pass messages along. "
    "Try \"add call the dentist tomorrow at 3pm\", \"I meditated\" or \"what's on today?\""
)
FALLBACK_SMS = (
    "Sorry, I didn't catch that. Try \"add milk to my list\", \"I meditated\" or "
    "\"what's on today?\""
)
UPSTREAM_REPLY = (
    "I can't reach my thinking cap right now, so I can only do simple things like "
    "\"add call mom tomorrow\" or \"what's on today?\". Try again in a bit?"
)


class LocalEngine(Protocol):
    """The grammar brain's seam, so a test can hand in another engine."""

    async def handle(
        self, ctx: ToolContext, registry: Registry, text: str
    ) -> LocalOutcome | None: ...


@cache
def shared_local_brain() -> LocalBrain:
    """The grammar brain, built once per process (it loads its grammar and warms dateparser)."""
    return LocalBrain()


class Brain:
    def __init__(
        self,
        services: Services,
        registry: Registry,
        settings: Settings,
        chat_model: ChatModel | None = None,
        local: LocalEngine | None = None,
    ) -> None:
        self.services = services
        self.registry = registry
        self.settings = settings
        self.agents = build_agents(registry)
        self.write_tools = frozenset(s.name for s in registry if s.writes)
        self._chat_model = chat_model
        self._owns_model = False
        self._local = local
        self.mode: BrainMode = settings.brain_mode or (
            "local_first" if chat_model is not None or settings.llm_configured else "local_only"
        )

    @property
    def chat_model(self) -> ChatModel | None:
        """The LLM, if any: given, or built from the settings on first use."""
        if self._chat_model is None and self.settings.llm_configured:
            self._chat_model = OpenAIChatModel.from_settings(self.settings)
            self._owns_model = True
        return self._chat_model

    @property
    def local(self) -> LocalEngine:
        return self._local if self._local is not None else shared_local_brain()

    async def aclose(self) -> None:
        if self._owns_model and isinstance(self._chat_model, OpenAIChatModel):
            await self._chat_model.aclose()

    async def converse(
        self, inp: ConversationInput, *, on_action: OnAction | None = None
    ) -> ConversationResult:
        """Answer one message; `on_action` hears each tool call as it finishes."""
        ctx = ToolContext(services=self.services, member=inp.member, channel=inp.channel)
        # The turn's writes are logged for "undo" with its Interaction, in one transaction.
        tools = TurnRegistry(self.registry, on_action, defer_log=True)
        meta: dict[str, Any] = {"mode": self.mode}
        result: ConversationResult | None = None
        try:
            if self.mode != "llm_only":
                outcome = await self._local_turn(ctx, tools, inp.text)
                if outcome is not None:
                    meta["intent"] = outcome.intent
                    result = ConversationResult(outcome.reply, list(outcome.actions), "local")
            model = self.chat_model if self.mode != "local_only" else None
            if result is None and model is not None:
                result = await self._llm_turn(model, ctx, tools, inp, meta, on_action)
            if result is None:
                result = ConversationResult(
                    FALLBACK_SMS if inp.channel == "sms" else FALLBACK_REPLY, [], "fallback"
                )
            return await self._record(inp, result, meta, tools)
        finally:
            # What was not filed with the Interaction (the turn broke, or its record was
            # refused) still changed something: its undo entries are filed on their own.
            await tools.flush_pending(self.services)

    async def _local_turn(
        self, ctx: ToolContext, tools: TurnRegistry, text: str
    ) -> LocalOutcome | None:
        try:
            return await self.local.handle(ctx, tools, text)
        except Unavailable:
            raise  # the channel answers "try again": the LLM could not do better
        except Exception:
            # A grammar bug must not cost the member an answer; the LLM or fallback still can.
            log.exception("local_brain_failed")
            return None

    async def _llm_turn(
        self,
        model: ChatModel,
        ctx: ToolContext,
        tools: TurnRegistry,
        inp: ConversationInput,
        meta: dict[str, Any],
        on_action: OnAction | None,
    ) -> ConversationResult | None:
        loop = ChatLoop(
            model, tools, self.agents, max_tool_rounds=self.settings.chat_max_tool_rounds,
            write_tools=self.write_tools, on_action=on_action,
        )
        try:
            run = await loop.run(ctx, inp.text, context=await self._context(ctx), start=LUNA)
        except Upstream as exc:
            log.warning("llm_unavailable", detail=exc.detail)
            meta["error"] = "upstream"
            return ConversationResult(UPSTREAM_REPLY, [], "fallback")
        meta.update(_loop_meta(run))
        handled_by = "llm" if run.agent == LUNA else run.agent
        return ConversationResult(run.reply, run.actions, handled_by, run.usage)

    async def _context(self, ctx: ToolContext) -> str:
        svc = self.services
        try:
            recent = await svc.interactions.recent_summary(ctx.member.id, limit=RECENT_TURNS,
                                                           tz=ctx.member.timezone)
        except LunaError:
            recent = []
        try:
            today = await svc.checkins.today(ctx.actor, ctx.member.id)
        except LunaError:
            today = None
        return member_context(ctx.member, recent, today, now=ctx.now())

    async def _record(
        self, inp: ConversationInput, result: ConversationResult, meta: dict[str, Any],
        tools: TurnRegistry,
    ) -> ConversationResult:
        channel, metadata = _channel(inp.channel)
        metadata.update(meta)
        metadata.update({
            "handled_by": result.handled_by,
            "intent": meta.get("intent"),
            "actions": [a.as_dict() for a in result.actions],
            "usage": _usage_meta(result.usage),
        })
        try:
            row = await self.services.interactions.record(
                inp.member.household_id, inp.member.id, channel, "inbound", inp.text,
                result.reply, metadata=metadata,
                twilio_sid=inp.external_id if inp.channel in TWILIO_CHANNELS else None,
                usage=self._usage_items(result.usage), member_tz=inp.member.timezone,
                actions=tools.pending,
                also=inp.also_file(result) if inp.also_file is not None else None,
            )
        except LunaError as exc:
            # The member still gets the answer; the SMS layer owns exactly-once delivery.
            log.warning("interaction_not_recorded", code=exc.code, detail=exc.detail)
            return result
        tools.pending.clear()
        return replace(result, interaction_id=row.id)

    def _usage_items(self, usage: Usage) -> list[UsageItem]:
        prices = self.settings.prices
        items: list[UsageItem] = []
        if usage.input_tokens:
            items.append(("chat_input_tokens", usage.input_tokens, "tokens",
                          usage.input_tokens * prices.chat_input_per_mtok / 1_000_000))
        if usage.output_tokens:
            items.append(("chat_output_tokens", usage.output_tokens, "tokens",
                          usage.output_tokens * prices.chat_output_per_mtok / 1_000_000))
        return items


def _channel(channel: str) -> tuple[Channel, dict[str, Any]]:
    """Interactions know the member-facing channels; the CLI and API count as chat."""
    if channel in CHANNELS:
        return cast(Channel, channel), {}
    return "web_chat", {"channel": channel}


def _usage_meta(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens, "model": usage.model,
    }


def _loop_meta(run: LoopResult) -> dict[str, Any]:
    out: dict[str, Any] = {"agents": run.agents, "model_calls": run.model_calls}
    if run.guard:
        out["guard"] = run.guard
    if run.failed:
        out["error"] = "upstream_mid_turn"
    return out
