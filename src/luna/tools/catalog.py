"""The registry every channel uses. Tool modules register into it when `load()` imports them."""

from __future__ import annotations

import importlib

from luna.tools.registry import Registry

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


def load() -> Registry:
    for module in TOOL_MODULES:
        importlib.import_module(module)
    return registry
