"""The registry every channel uses. Tool modules register into it when `load()` imports them."""

from __future__ import annotations

import importlib

from luna.config import Settings
from luna.tools.registry import Registry
from luna.tools.web_tools import web_tools

registry = Registry()

TOOL_MODULES = (
    "luna.tools.task_tools",
    "luna.tools.habit_tools",
    "luna.tools.goal_tools",
    "luna.tools.checkin_tools",
    "luna.tools.profile_tools",
    "luna.tools.chore_tools",
    "luna.tools.calendar_tools",
    "luna.tools.message_tools",
    "luna.tools.planning_tools",
    "luna.tools.undo_tools",
)


def load(settings: Settings | None = None) -> Registry:
    """Every tool; with settings, also those that exist only when configured (web search)."""
    for module in TOOL_MODULES:
        importlib.import_module(module)
    if settings is None:
        return registry
    extra = web_tools(settings)
    if not extra.names():
        return registry
    combined = Registry()
    for spec in (*registry, *extra):
        combined.tool(writes=spec.writes)(spec.fn)
    return combined
