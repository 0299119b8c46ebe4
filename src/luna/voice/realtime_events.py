"""The OpenAI Realtime (GA) client events Luna sends, built in one place, and their contract check.

Every `session.update` re-asserts `audio/pcmu` both ways: a handoff that forgets it resets a
phone leg to 24 kHz PCM (static, then a silent model; openai-agents-js PR #1366). The voice is
sent only in the first update of a session: it cannot change once the model has spoken.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Union

import orjson
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

PCMU: dict[str, str] = {"type": "audio/pcmu"}


@dataclass(frozen=True, slots=True)
class SessionConfig:
    model: str
    voice: str
    transcription_model: str
    instructions: str
    tools: tuple[dict[str, Any], ...] = ()
    language: str | None = "en"
    vad_threshold: float = 0.5
    vad_silence_ms: int = 500
    vad_prefix_ms: int = 300


def session_update(cfg: SessionConfig, *, with_voice: bool) -> dict[str, Any]:
    transcription: dict[str, Any] = {"model": cfg.transcription_model}
    if cfg.language:
        transcription["language"] = cfg.language
    output: dict[str, Any] = {"format": dict(PCMU)}
    if with_voice:
        output["voice"] = cfg.voice
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": cfg.model,
            "output_modalities": ["audio"],
            "instructions": cfg.instructions,
            "audio": {
                "input": {
                    "format": dict(PCMU),
                    "transcription": transcription,
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": cfg.vad_threshold,
                        "prefix_padding_ms": cfg.vad_prefix_ms,
                        "silence_duration_ms": cfg.vad_silence_ms,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": output,
            },
            "tools": [dict(t) for t in cfg.tools],
            "tool_choice": "auto",
        },
    }


def audio_append(payload_b64: str) -> str:
    """The hot path (50 a second per call): a ready JSON string, no dict, no SDK transform."""
    return f'{{"type":"input_audio_buffer.append","audio":{json.dumps(payload_b64)}}}'


def truncate(item_id: str, content_index: int, audio_end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": max(0, int(audio_end_ms)),
    }


def response_create() -> dict[str, Any]:
    return {"type": "response.create"}


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


def message(role: str, text: str) -> dict[str, Any]:
    """A prior turn replayed as text when a session is rebuilt (assistant audio can't be)."""
    part = {"type": "output_text" if role == "assistant" else "input_text", "text": text}
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": role, "content": [part]},
    }


def dumps(event: dict[str, Any]) -> str:
    # A session.update carries every tool's schema (tens of KB, once per call and handoff).
    return orjson.dumps(event).decode()


# -- the contract check ---------------------------------------------------------------------------

class InvalidClientEvent(ValueError):
    """An event Luna sent that the GA API would reject or silently misread."""


@cache
def _client_adapter() -> TypeAdapter[Any]:
    # The SDK's Param TypedDicts with unknown keys forbidden: pydantic rejects a misspelled or
    # beta-era key anywhere in the event, which the SDK's own models (extra="allow") would keep.
    from openai.types.realtime import RealtimeClientEventParam

    variants = typing.get_args(RealtimeClientEventParam)
    union: Any = Union[variants]  # noqa: UP007 - a runtime-built union of the SDK's variants
    return TypeAdapter(
        Annotated[union, Field(discriminator="type")], config=ConfigDict(extra="forbid")
    )


def validate_client_event(event: dict[str, Any] | str | bytes) -> None:
    """Raise InvalidClientEvent unless `event` is a valid GA client event with no unknown keys."""
    if isinstance(event, str | bytes):
        try:
            event = json.loads(event)
        except ValueError as exc:
            raise InvalidClientEvent(f"not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InvalidClientEvent("a client event is a JSON object")
    try:
        _client_adapter().validate_python(event)
    except ValidationError as exc:
        raise InvalidClientEvent(f"{event.get('type')}: {exc}") from exc
