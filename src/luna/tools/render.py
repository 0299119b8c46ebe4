"""The only place that knows the wire shapes of a tool: Chat Completions and Realtime."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from luna.tools.registry import ToolSpec


def to_chat_tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
            "strict": True,
        },
    }


def to_realtime_tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
    }


def chat_tools(specs: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    return [to_chat_tool(s) for s in specs]


def realtime_tools(specs: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    return [to_realtime_tool(s) for s in specs]
