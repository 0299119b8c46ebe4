"""The Media Streams codec: every Twilio message becomes a typed event, never an exception."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luna.voice.twilio_codec import (
    Connected,
    Dtmf,
    Malformed,
    Mark,
    Media,
    Start,
    Stop,
    Unknown,
    b64_len,
    decode,
    encode_clear,
    encode_mark,
    encode_media,
)

START = {
    "event": "start", "sequenceNumber": "1", "streamSid": "MZ123",
    "start": {"streamSid": "MZ123", "accountSid": "AC1", "callSid": "CA9", "tracks": ["inbound"],
              "customParameters": {"member": "7", "direction": "outbound"},
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
}


def test_start_carries_the_stream_call_and_custom_parameters() -> None:
    ev = decode(json.dumps(START))
    assert isinstance(ev, Start)
    assert (ev.stream_sid, ev.call_sid, ev.account_sid) == ("MZ123", "CA9", "AC1")
    assert ev.custom_parameters == {"member": "7", "direction": "outbound"}
    assert ev.media_format.sample_rate == 8000 and ev.tracks == ("inbound",)


def test_media_keeps_the_payload_encoded_and_decodes_on_demand() -> None:
    payload = base64.b64encode(b"\xff" * 160).decode()
    ev = decode(json.dumps({"event": "media", "streamSid": "MZ1", "media": {
        "track": "inbound", "chunk": "3", "timestamp": "60", "payload": payload}}))
    assert isinstance(ev, Media)
    assert (ev.payload_b64, ev.chunk, ev.timestamp, ev.track) == (payload, 3, 60, "inbound")
    assert ev.payload == b"\xff" * 160


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"event":"connected","protocol":"Call","version":"1.0.0"}', Connected("Call", "1.0.0")),
    ('{"event":"mark","streamSid":"MZ1","mark":{"name":"0:4"}}', Mark("0:4")),
    ('{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"7"}}', Dtmf("7")),
    ('{"event":"stop","stop":{"accountSid":"AC1","callSid":"CA9"}}', Stop("CA9")),
    ('{"event":"something-new"}', Unknown("something-new")),
])
def test_each_message_kind(raw: str, expected: object) -> None:
    assert decode(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "nope", "[]", "12", '{"event": 5}', '{"noevent": 1}', '{"event":"mark"}',
    '{"event":"mark","mark":{"name":3}}', '{"event":"media"}', '{"event":"media","media":[]}',
    '{"event":"media","media":{"payload":7}}', '{"event":"media","media":{"payload":"abc"}}',
    '{"event":"media","media":{"payload":"AAAA","chunk":"x"}}', '{"event":"dtmf","dtmf":{}}',
    '{"event":"start","start":{}}', '{"event":"start","start":{"streamSid":"MZ\\"1"}}',
    '{"event":"start","start":{"streamSid":"MZ1","customParameters":[1]}}',
])
def test_malformed_messages_become_values(raw: str) -> None:
    assert isinstance(decode(raw), Malformed)


@given(st.text(max_size=300))
def test_decode_never_raises(raw: str) -> None:
    decode(raw)


@given(st.dictionaries(st.sampled_from(["event", "media", "mark", "start", "stop", "dtmf"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                 st.dictionaries(st.text(max_size=8), st.text(max_size=8)))))
def test_decode_never_raises_on_odd_json(msg: dict[str, object]) -> None:
    decode(json.dumps(msg))


def test_outbound_messages_are_twilio_shaped_and_escaped() -> None:
    assert json.loads(encode_media("MZ1", "AAAA")) == {
        "event": "media", "streamSid": "MZ1", "media": {"payload": "AAAA"}}
    assert json.loads(encode_mark("MZ1", '3:"x"')) == {
        "event": "mark", "streamSid": "MZ1", "mark": {"name": '3:"x"'}}
    assert json.loads(encode_clear("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
    assert json.loads(encode_media('M"Z', 'a"b'))["media"]["payload"] == 'a"b'


@pytest.mark.parametrize("n", [0, 1, 2, 3, 159, 160, 800])
def test_b64_len_matches_decoding(n: int) -> None:
    assert b64_len(base64.b64encode(b"x" * n).decode()) == n
