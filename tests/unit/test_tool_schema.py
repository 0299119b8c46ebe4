"""The registry derives each tool's schema from its signature; the renderers shape it per API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Literal

import pytest

from luna.tools.registry import Registry
from luna.tools.render import to_chat_tool, to_realtime_tool
from luna.tools.schema import parse_docstring


class _NoDatabase:
    """These tools touch no data; the registry still opens their shared-read scope."""

    @asynccontextmanager
    async def shared_reads(self) -> AsyncIterator[None]:
        yield


CTX = SimpleNamespace(services=SimpleNamespace(db=_NoDatabase()))


def _registry() -> Registry:
    reg = Registry()

    @reg.tool(writes=True)
    async def water_plants(
        ctx: object, room: str, litres: float = 0.5, when: str | None = None,
        mood: Literal["happy", "sad"] = "happy",
    ) -> dict[str, object]:
        """Water the plants in a room.

        Args:
            room: Which room's plants.
            litres: How much water,
                in litres.
            when: When to do it.
            mood: The plants' mood.
        """
        return {"room": room, "litres": litres}

    return reg


def test_docstring_summary_and_args_with_continuation() -> None:
    summary, args = parse_docstring(
        """Do a thing.

        More words.

        Args:
            a: First.
            b (int): Second,
                continued.

        Returns:
            nothing
        """
    )
    assert summary == "Do a thing. More words."
    assert args == {"a": "First.", "b": "Second, continued."}


def test_schema_is_strict_and_derived_from_the_signature() -> None:
    spec = _registry().get("water_plants")
    assert spec is not None
    assert spec.description == "Water the plants in a room."
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "room": {"type": "string", "description": "Which room's plants."},
            "litres": {"type": "number", "description": "How much water, in litres."},
            "when": {"anyOf": [{"type": "string"}, {"type": "null"}],
                     "description": "When to do it."},
            "mood": {
                "type": "string", "enum": ["happy", "sad"], "description": "The plants' mood."
            },
        },
        "required": ["room", "litres", "when", "mood"],
        "additionalProperties": False,
    }


def test_chat_completions_shape_nests_under_function_with_strict() -> None:
    spec = _registry().get("water_plants")
    assert spec is not None
    rendered = to_chat_tool(spec)
    assert rendered["type"] == "function"
    assert set(rendered["function"]) == {"name", "description", "parameters", "strict"}
    assert rendered["function"]["strict"] is True


def test_realtime_shape_is_flat() -> None:
    spec = _registry().get("water_plants")
    assert spec is not None
    assert set(to_realtime_tool(spec)) == {"type", "name", "description", "parameters"}


async def test_invoke_turns_bad_arguments_into_an_error_result() -> None:
    reg = _registry()
    res = await reg.invoke("water_plants", CTX, {"room": "kitchen", "litres": "lots"})  # type: ignore[arg-type]
    assert not res.ok and res.error == "invalid_arguments" and "litres" in (res.detail or "")
    res = await reg.invoke("water_plants", CTX, {"room": "kitchen", "extra": 1})  # type: ignore[arg-type]
    assert not res.ok and res.error == "invalid_arguments"
    res = await reg.invoke("water_plants", CTX, '{"room": ')  # type: ignore[arg-type]
    assert not res.ok


async def test_invoke_null_optional_takes_the_default() -> None:
    res = await _registry().invoke("water_plants", CTX, {"room": "hall", "litres": None})  # type: ignore[arg-type]
    assert res.ok and res.data == {"room": "hall", "litres": 0.5}


async def test_unknown_tool_is_an_error_result() -> None:
    res = await _registry().invoke("fly", CTX, {})  # type: ignore[arg-type]
    assert not res.ok and res.error == "unknown_tool"


async def test_a_crashing_tool_becomes_an_internal_error_result() -> None:
    reg = Registry()

    @reg.tool(writes=False)
    async def broken(ctx: object) -> None:
        """Always fails."""
        raise RuntimeError("boom")

    res = await reg.invoke("broken", CTX, {})  # type: ignore[arg-type]
    assert not res.ok and res.error == "internal_error" and "boom" not in (res.detail or "")


def test_registration_requires_ctx_docstring_and_types() -> None:
    reg = Registry()
    with pytest.raises(TypeError):

        @reg.tool(writes=False)
        async def no_ctx(room: str) -> None:
            """Doc."""

    with pytest.raises(TypeError):

        @reg.tool(writes=False)
        async def no_doc(ctx: object) -> None:
            pass
