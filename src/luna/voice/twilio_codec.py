"""Twilio Media Streams messages <-> typed events. Pure: no I/O, no await, never raises.

A bad frame from Twilio (or from anyone who got past the signature) becomes a `Malformed` or
`Unknown` value, so the loop logs it and the call goes on.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str
    type: Literal["connected"] = "connected"


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    """MZ…: every message Luna sends back must carry it."""
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str]
    """The `<Parameter>`s of the TwiML `<Stream>` (member, direction, purpose)."""
    media_format: MediaFormat
    type: Literal["start"] = "start"


@dataclass(slots=True)
class Media:
    # Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
    # building this (50 a second per call) cost more than parsing its JSON. Nobody mutates it.
    payload_b64: str
    """Base64 μ-law 8 kHz, kept encoded: Luna forwards it to OpenAI as it came."""
    timestamp: int
    """Milliseconds since the stream started, on Twilio's presentation clock."""
    track: str
    chunk: int
    type: Literal["media"] = "media"

    @property
    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)


@dataclass(frozen=True, slots=True)
class Mark:
    name: str
    type: Literal["mark"] = "mark"


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str
    type: Literal["dtmf"] = "dtmf"


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str
    type: Literal["stop"] = "stop"


@dataclass(frozen=True, slots=True)
class Unknown:
    event: str
    """Twilio's `event` value we do not handle (new message kinds appear over time)."""
    type: Literal["unknown"] = "unknown"


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str
    raw_size: int = 0
    type: Literal["malformed"] = "malformed"


TwilioEvent = Connected | Start | Media | Mark | Dtmf | Stop | Unknown | Malformed

def decode(raw: str | bytes) -> TwilioEvent:
    """One WebSocket text frame from Twilio, as an event."""
    try:
        # orjson: this runs 50 times a second per call, and parses a frame in a third of the
        # time json.loads takes (it also bounds nesting, so hostile input cannot recurse).
        msg = orjson.loads(raw)
    except (ValueError, RecursionError):
        return Malformed("not JSON", len(raw))
    if not isinstance(msg, dict):
        return Malformed("not a JSON object", len(raw))
    event = msg.get("event")
    try:
        if event == "media":  # nearly every frame: before the match's other cases
            return _media(msg)
        match event:
            case "mark":
                name = msg["mark"]["name"]
                return Mark(name) if isinstance(name, str) else Malformed("mark without a name")
            case "start":
                return _start(msg)
            case "connected":
                return Connected(str(msg.get("protocol", "")), str(msg.get("version", "")))
            case "dtmf":
                digit = msg["dtmf"]["digit"]
                if not isinstance(digit, str) or len(digit) != 1:
                    return Malformed("dtmf without a digit")
                return Dtmf(digit)
            case "stop":
                stop = msg.get("stop")
                call_sid = stop.get("callSid", "") if isinstance(stop, dict) else ""
                return Stop(str(call_sid))
            case str():
                return Unknown(event[:64])
            case _:
                return Malformed("no event name", len(raw))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Malformed(f"bad {event} message: {type(exc).__name__}", len(raw))


def _media(msg: dict[str, Any]) -> TwilioEvent:
    media = msg["media"]
    payload = media["payload"]
    if type(payload) is not str:
        return Malformed("media payload is not a string")
    # A cheap shape check: b64 of whole bytes; full decoding waits until someone needs the bytes.
    if len(payload) % 4:
        return Malformed("media payload is not base64")
    timestamp, chunk, track = media.get("timestamp"), media.get("chunk"), media.get("track")
    return Media(payload, int(timestamp) if timestamp else 0,
                 track if type(track) is str and track else "inbound", int(chunk) if chunk else 0)


def _start(msg: dict[str, Any]) -> TwilioEvent:
    start = msg["start"]
    stream_sid = start.get("streamSid") or msg.get("streamSid")
    if not isinstance(stream_sid, str) or not _SID.match(stream_sid):
        return Malformed("start without a valid streamSid")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        return Malformed("customParameters is not an object")
    fmt = start.get("mediaFormat") or {}
    return Start(
        stream_sid=stream_sid,
        call_sid=str(start.get("callSid") or ""),
        account_sid=str(start.get("accountSid") or ""),
        tracks=tuple(str(t) for t in start.get("tracks") or ("inbound",)),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        media_format=MediaFormat(
            encoding=str(fmt.get("encoding", "audio/x-mulaw")),
            sample_rate=int(fmt.get("sampleRate", 8000)),
            channels=int(fmt.get("channels", 1)),
        ),
    )


def is_valid_b64(payload: str) -> bool:
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def b64_len(payload_b64: str) -> int:
    """Decoded size of a base64 string without decoding it."""
    n = len(payload_b64)
    if n == 0:
        return 0
    pad = 2 if payload_b64.endswith("==") else 1 if payload_b64.endswith("=") else 0
    return n * 3 // 4 - pad


# Outbound messages are formatted by hand (this is the hot path), with every value passed
# through json.dumps so nothing from the model or the wire can break out of its string.
_q = json.dumps


def encode_media(stream_sid: str, payload_b64: str) -> str:
    return (f'{{"event":"media","streamSid":{_q(stream_sid)},'
            f'"media":{{"payload":{_q(payload_b64)}}}}}')


def encode_mark(stream_sid: str, name: str) -> str:
    return f'{{"event":"mark","streamSid":{_q(stream_sid)},"mark":{{"name":{_q(name)}}}}}'


def encode_clear(stream_sid: str) -> str:
    return f'{{"event":"clear","streamSid":{_q(stream_sid)}}}'
