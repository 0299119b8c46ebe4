"""The local, offline brain: recognise → plan → run the same tools the LLM would → reply.

`LocalBrain.handle` returns None whenever it is not sure (nothing matched, a tool it needs is
missing, anything odd), so the LLM or the fallback answers instead; it raises only Unavailable
(the database is overloaded). Once a tool has run, though, it always answers itself, so an
action is never repeated by the LLM.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import structlog

from luna.brain.local import replies
from luna.brain.local.handlers import Env, Plan, plan
from luna.brain.local.lists import HouseholdLists, ListCache, MemberRef
from luna.brain.local.recognizer import GRAMMAR, IntentMatch, Recognizer
from luna.brain.types import Action
from luna.domain.localday import parse_hhmm
from luna.errors import Unavailable
from luna.services.when import warm_up as warm_dateparser
from luna.tools.context import ToolContext
from luna.tools.registry import Registry, ToolResult

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LocalOutcome:
    reply: str
    actions: list[Action] = field(default_factory=list)
    intent: str = ""


def env_for(ctx: ToolContext, lists: HouseholdLists) -> Env:
    member = ctx.member
    try:
        day_start = parse_hhmm(member.preferences.day_start)
    except ValueError:
        day_start = time(3, 0)
    return Env(now=ctx.now(), tz=ctx.tz, speaker=member.name, lists=lists, day_start=day_start,
               speaker_role=member.role)


def _action(name: str, arguments: dict[str, object], res: ToolResult) -> Action:
    if res.ok:
        return Action(name, dict(arguments), True, res.data)
    extra = {"candidates": res.candidates} if res.candidates else None
    return Action(name, dict(arguments), False, extra, res.error, res.detail)


class LocalBrain:
    """One per process: the grammar, its warm-up, and the household lists it keeps current."""

    def __init__(self, grammar: Path | str = GRAMMAR, *, warm: bool = True,
                 cache_ttl: float = 10.0) -> None:
        self.recognizer = Recognizer(grammar)
        self.lists = ListCache(ttl=cache_ttl)
        if warm:
            self.warm_up()

    def warm_up(self) -> None:
        """Pay hassil's lazy template parsing and dateparser's data load at start, not on the
        first message."""
        sample = HouseholdLists.build([MemberRef(0, "Sam")])
        self.recognizer.warm_up(sample)
        try:
            warm_dateparser()
        except Exception:  # a slow first parse later is better than no brain
            log.warning("dateparser_warm_up_failed", exc_info=True)
        # The grammar and dateparser's language data are long-lived: moving them out of the
        # collector's reach keeps a full collection from pausing a reply for 100+ ms.
        gc.collect()
        gc.freeze()

    def understand(self, text: str, lists: HouseholdLists, env: Env) -> tuple[
        IntentMatch | None, Plan | None
    ]:
        """Recognition and planning alone, with no tool run (the accuracy bench uses this)."""
        match = self.recognizer.recognize(text, lists, env.speaker)
        if match is None:
            return None, None
        return match, plan(match, env)

    async def handle(self, ctx: ToolContext, registry: Registry, text: str) -> LocalOutcome | None:
        try:
            lists = await self.lists.get(ctx)
            env = env_for(ctx, lists)
            match, planned = self.understand(text, lists, env)
            if match is None and await self.lists.catch_up_now(ctx):
                # Not recognised, and another worker had just changed these lists: once more.
                lists = await self.lists.get(ctx)
                env = env_for(ctx, lists)
                match, planned = self.understand(text, lists, env)
        except Unavailable:
            raise  # the database is overloaded: "I didn't catch that" would be untrue
        except Exception:
            log.exception("local_brain_understand_failed")
            return None
        if match is None or planned is None:
            return None
        if any(c.tool not in registry for c in planned.calls):
            log.info("local_brain_tool_missing", tools=[c.tool for c in planned.calls])
            return None
        actions: list[Action] = []
        for c in planned.calls:
            try:
                res = await registry.invoke(c.tool, ctx, c.arguments)
            except Exception:
                # The write may have happened: answer here rather than let the LLM repeat it.
                log.exception("local_brain_tool_failed", tool=c.tool)
                res = ToolResult(c.tool, ok=False, error="internal_error",
                                 detail="the tool failed unexpectedly")
            actions.append(_action(c.tool, c.arguments, res))
            if not res.ok:
                break
            try:
                self.lists.after_tool(ctx, c.tool, res.data)
            except Exception:
                log.exception("local_brain_lists_not_updated", tool=c.tool)
                self.lists.invalidate(ctx.member.household_id)
        try:
            reply = replies.render(planned, actions, env)
        except Exception:
            log.exception("local_brain_reply_failed", intent=planned.intent)
            reply = "Done." if all(a.ok for a in actions) else "Sorry, that didn't work."
        return LocalOutcome(reply, actions, planned.intent)
