"""Pin every registered tool in both wire shapes. After an intended change, regenerate with
LUNA_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_tool_snapshots.py and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletionFunctionToolParam
from openai.types.realtime import RealtimeFunctionTool
from pydantic import ConfigDict, TypeAdapter

from luna.tools import catalog
from luna.tools.render import chat_tools, realtime_tools

SNAPSHOTS = Path(__file__).parent.parent / "snapshots"


def _check(name: str, rendered: list[dict[str, Any]]) -> None:
    path = SNAPSHOTS / name
    text = json.dumps(rendered, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("LUNA_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.exists(), f"missing snapshot {path}; run with LUNA_UPDATE_SNAPSHOTS=1"
    assert json.loads(path.read_text()) == json.loads(text), f"{name} changed"


def test_chat_completions_tools_snapshot() -> None:
    _check("tools.chat.json", chat_tools(catalog.load()))


def test_realtime_tools_snapshot() -> None:
    _check("tools.realtime.json", realtime_tools(catalog.load()))


@pytest.mark.parametrize("spec", list(catalog.load()), ids=lambda s: s.name)
def test_each_realtime_tool_validates_against_the_sdk_types(spec: Any) -> None:
    tool = realtime_tools([spec])[0]
    validated = RealtimeFunctionTool.model_validate(tool)
    assert not validated.__pydantic_extra__, validated.__pydantic_extra__
    assert validated.model_dump(exclude_none=True) == tool


@pytest.mark.parametrize("spec", list(catalog.load()), ids=lambda s: s.name)
def test_each_chat_tool_validates_against_the_sdk_types(spec: Any) -> None:
    # A list wrapper, because pydantic takes a config for a TypedDict only inside another type.
    adapter = TypeAdapter(
        list[ChatCompletionFunctionToolParam], config=ConfigDict(extra="forbid")
    )
    adapter.validate_python(chat_tools([spec]))


@pytest.mark.parametrize("spec", list(catalog.load()), ids=lambda s: s.name)
def test_each_schema_is_strict_mode_compatible(spec: Any) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "$ref" not in node and "default" not in node
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False
                assert sorted(node.get("required", [])) == sorted(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec.parameters)
    assert spec.description and len(spec.description) < 1024
