"""What Luna sends to OpenAI Realtime is valid GA with no unknown keys."""

from __future__ import annotations

import pytest

from luna.voice import realtime_events as rt


def _cfg() -> rt.SessionConfig:
    return rt.SessionConfig(model="gpt-realtime-mini", voice="marin",
                            transcription_model="gpt-4o-mini-transcribe", instructions="Be Luna.",
                            tools=({"type": "function", "name": "get_tasks", "description": "d",
                                    "parameters": {"type": "object", "properties": {}}},))


def test_every_builder_makes_a_valid_client_event() -> None:
    for event in (rt.session_update(_cfg(), with_voice=True),
                  rt.session_update(_cfg(), with_voice=False), rt.truncate("i", 0, 120),
                  rt.response_create(), rt.function_call_output("c", "{}"),
                  rt.message("user", "hi"), rt.message("assistant", "hello"),
                  rt.message("system", "note")):
        rt.validate_client_event(event)
    rt.validate_client_event(rt.audio_append("//8="))


def test_every_session_update_reasserts_pcmu_and_only_the_first_sets_the_voice() -> None:
    first = rt.session_update(_cfg(), with_voice=True)["session"]["audio"]
    later = rt.session_update(_cfg(), with_voice=False)["session"]["audio"]
    for audio in (first, later):
        assert audio["input"]["format"] == audio["output"]["format"] == {"type": "audio/pcmu"}
    assert first["output"]["voice"] == "marin" and "voice" not in later["output"]


@pytest.mark.parametrize("bad", [
    {"type": "session.update", "session": {"type": "realtime", "instructons": "x"}},
    {"type": "session.update", "session": {"type": "realtime", "input_audio_format": "g711_ulaw"}},
    {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0},
    {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0,
     "audio_end_ms": 5, "audio_end_msec": 5},
    {"type": "response.audio.delta"},
    {"type": "session.update", "session": {"modalities": ["audio"]}},
])
def test_misspelled_beta_or_incomplete_events_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(rt.InvalidClientEvent):
        rt.validate_client_event(bad)


def test_a_negative_truncate_is_clamped() -> None:
    assert rt.truncate("i", 0, -5)["audio_end_ms"] == 0
