"""Luna and her specialists, and the one place their tools are rendered for each API.

A handoff is a tool (`transfer_to_<agent>`, `transfer_back_to_luna`): calling it switches the
active agent's instructions and tools for the rest of the turn (chat) or the call (realtime).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from luna.brain.persona import luna_instructions
from luna.tools.context import ToolContext
from luna.tools.registry import Registry, ToolSpec
from luna.tools.render import chat_tools, realtime_tools
from luna.tools.schema import params_model, strict_json_schema

LUNA = "luna"
TRANSFER_TO = "transfer_to_"
TRANSFER_BACK = "transfer_back_to_"


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    instructions: str
    """The agent's own focus; the persona and the channel's style are added around it."""
    tool_names: tuple[str, ...]
    handoffs: tuple[str, ...]
    handoff_description: str = ""
    """What the agent is for, as the model reads it in the handoff tool."""


_LUNA_FOCUS = """\
You are the front door. Handle everyday requests yourself with your tools. When the member wants \
to go deeper, hand over: transfer_to_task_planner to break a project into tasks or plan a day or \
week, transfer_to_habit_coach to build, fix or reflect on habits, transfer_to_goal_strategist to \
shape a goal and its steps. Do not hand over for a single quick action."""

_TASK_PLANNER = """\
You are Luna's task planner. Break projects into small, concrete tasks with realistic due times, \
check the schedule before proposing times, and keep the plan light enough to actually happen. \
Create the tasks the member agrees to. When the member moves on to something else, call \
transfer_back_to_luna."""

_HABIT_COACH = """\
You are Luna's habit coach. Use habit psychology: tiny starts, cues and anchors ("after my \
coffee"), never missing twice, celebrating streaks, and treating a skip as data, not failure. \
Log what the member did, look at their summary before giving advice, and record how they feel \
with update_daily_metrics. When the member moves on to something else, call \
transfer_back_to_luna."""

_GOAL_STRATEGIST = """\
You are Luna's goal strategist. Turn wishes into clear goals (measurable when it makes sense, \
with a target date), then into the first few concrete steps, created as tasks. Track progress \
honestly and celebrate it. When the member moves on to something else, call \
transfer_back_to_luna."""

_SPECIALISTS: tuple[Agent, ...] = (
    Agent(
        name="task_planner",
        instructions=_TASK_PLANNER,
        tool_names=("create_task", "get_tasks", "complete_task", "reschedule_task",
                    "get_schedule", "undo_last_action"),
        handoffs=(LUNA,),
        handoff_description=(
            "Hand the conversation to Luna's task planner, who breaks projects into tasks "
            "and plans the member's day or week."
        ),
    ),
    Agent(
        name="habit_coach",
        instructions=_HABIT_COACH,
        tool_names=("log_habit", "get_habit_summary", "update_daily_metrics",
                    "undo_last_action"),
        handoffs=(LUNA,),
        handoff_description=(
            "Hand the conversation to Luna's habit coach, for building, fixing or reflecting "
            "on habits."
        ),
    ),
    Agent(
        name="goal_strategist",
        instructions=_GOAL_STRATEGIST,
        tool_names=("create_goal", "update_goal_progress", "get_goals", "create_task",
                    "undo_last_action"),
        handoffs=(LUNA,),
        handoff_description=(
            "Hand the conversation to Luna's goal strategist, who turns a goal into a plan "
            "of concrete steps."
        ),
    ),
)


def build_agents(registry: Registry) -> dict[str, Agent]:
    """Luna (every tool in the registry) and the specialists; an unknown tool name fails here."""
    luna = Agent(
        name=LUNA,
        instructions=_LUNA_FOCUS,
        tool_names=tuple(registry.names()),
        handoffs=tuple(a.name for a in _SPECIALISTS),
        handoff_description="Hand the conversation back to Luna, for anything else.",
    )
    agents = {a.name: a for a in (luna, *_SPECIALISTS)}
    for agent in agents.values():
        missing = [n for n in agent.tool_names if n not in registry]
        if missing:
            raise ValueError(f"agent {agent.name} names unknown tools: {missing}")
        unknown = [h for h in agent.handoffs if h not in agents]
        if unknown:
            raise ValueError(f"agent {agent.name} hands off to unknown agents: {unknown}")
    return agents


def handoff_tool_name(target: str) -> str:
    return f"{TRANSFER_BACK}{target}" if target == LUNA else f"{TRANSFER_TO}{target}"


def handoff_target(tool_name: str) -> str | None:
    """The agent a handoff tool switches to, or None for an ordinary tool."""
    for prefix in (TRANSFER_BACK, TRANSFER_TO):
        if tool_name.startswith(prefix):
            return tool_name.removeprefix(prefix)
    return None


async def _handoff(ctx: ToolContext, reason: str | None = None) -> None:
    """Hand the conversation over.

    Args:
        reason: What the member needs, in a few words, so the next assistant picks up smoothly.
    """


def handoff_spec(name: str, description: str) -> ToolSpec:
    """A handoff as a ToolSpec: its schema comes from `_handoff`'s signature like any tool's."""
    _, params = params_model(_handoff, name)
    return ToolSpec(
        name=name, description=description, params=params, fn=_handoff, writes=False,
        parameters=strict_json_schema(params),
    )


def agent_specs(
    agent: Agent, registry: Registry, agents: Mapping[str, Agent]
) -> list[ToolSpec]:
    """The agent's tools, then its handoffs, in a stable order."""
    specs = [s for s in (registry.get(n) for n in agent.tool_names) if s is not None]
    for target in agent.handoffs:
        specs.append(handoff_spec(handoff_tool_name(target),
                                  agents[target].handoff_description))
    return specs


def agent_instructions(agent: Agent, channel: str, context: str | None = None) -> str:
    parts = [luna_instructions(channel), agent.instructions]
    if context:
        parts.append(context)
    return "\n\n".join(parts)


def agent_chat_tools(
    agent: Agent, registry: Registry, agents: Mapping[str, Agent] | None = None
) -> list[dict[str, Any]]:
    """The Chat Completions `tools` list for this agent."""
    return chat_tools(agent_specs(agent, registry, agents or build_agents(registry)))


def agent_realtime_session(
    agent: Agent,
    registry: Registry,
    *,
    channel: str = "voice",
    context: str | None = None,
    agents: Mapping[str, Agent] | None = None,
) -> dict[str, Any]:
    """The part of a Realtime `session.update` that changes with the active agent."""
    return {
        "instructions": agent_instructions(agent, channel, context),
        "tools": realtime_tools(agent_specs(agent, registry, agents or build_agents(registry))),
    }
