"""A scripted OpenAI Realtime server (GA wire protocol) on 127.0.0.1, for tests and the bench.

It speaks real WebSockets, so Luna talks to it through the official SDK unchanged
(`websocket_base_url = server.url`). It runs an energy VAD on the caller's μ-law (speech_started
/ speech_stopped, an auto response on stop, the running response cancelled on start), plays
scripted responses (audio deltas paced faster than real time, transcripts, function calls,
usage), truncates items like the real server (an error past the audio's end), and refuses a
second response.create while one runs. Every client event is validated against the SDK's types
with unknown keys forbidden; `assert_clean()` fails the test on any bad one. Every event it
sends is validated against the server types, so the fake cannot drift from the real protocol.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import TracebackType
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from luna.testing import audio
from luna.voice.realtime_events import InvalidClientEvent, validate_client_event


@dataclass(frozen=True, slots=True)
class Say:
    """A response that speaks `text` (audio of `ms` milliseconds, or espeak/tone by length)."""

    text: str
    ms: int | None = None


@dataclass(frozen=True, slots=True)
class CallTool:
    """A response that (optionally) says something, then calls a function."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    say: str | None = None
    say_ms: int | None = None


Step = Say | CallTool
DEFAULT_REPLY = Say("Okay.", 300)


@cache
def _server_adapter() -> TypeAdapter[Any]:
    from openai.types.realtime import RealtimeServerEvent

    inner = typing.get_args(RealtimeServerEvent)
    if inner and typing.get_origin(inner[0]) is Union:
        inner = typing.get_args(inner[0])
    union: Any = Union[inner]  # noqa: UP007 - a runtime-built union of the SDK's variants
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


_SERVER_EXTRAS = {"id", "object", "expires_at"}


def validate_server_event(event: dict[str, Any]) -> None:
    """The event parses as a GA server event and carries no key the SDK does not know."""
    model = _server_adapter().validate_python(event)
    extras = _extras(model, "$")
    if extras:
        raise ValueError(f"{event['type']}: unknown keys {extras}")


def _extras(model: Any, path: str) -> list[str]:
    out: list[str] = []
    extra = getattr(model, "__pydantic_extra__", None) or {}
    for key in extra:
        if not (path.endswith(".session") and key in _SERVER_EXTRAS):
            out.append(f"{path}.{key}")
    for name in getattr(type(model), "model_fields", {}):
        value = getattr(model, name, None)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, BaseModel):
                out.extend(_extras(v, f"{path}.{name}"))
    return out


@dataclass(slots=True)
class Truncation:
    item_id: str
    audio_end_ms: int
    at: float
    """time.monotonic() when it arrived."""


@dataclass(slots=True)
class _Item:
    id: str
    type: str
    role: str | None = None
    audio_bytes: int = 0
    call_id: str | None = None
    text: str = ""


class FakeSession:
    """One Realtime connection: its state, what it received, when things happened."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, index: int) -> None:
        self.server = server
        self.ws = ws
        self.index = index
        self.path = ws.request.path if ws.request else ""
        self.headers = dict(ws.request.headers) if ws.request else {}
        self.received: list[dict[str, Any]] = []
        self.session_updates: list[dict[str, Any]] = []
        self.items: dict[str, _Item] = {}
        self.order: list[str] = []
        self.truncations: list[Truncation] = []
        self.errors_sent: list[str] = []
        self.tool_outputs: list[dict[str, Any]] = []
        self.speech_started_at: list[float] = []
        self.first_delta_at: list[float] = []
        self.response_creates = 0
        self.responses: list[str] = []
        self.caller_tag: int | None = None
        self.closed_at: float | None = None
        self.audio_in_bytes = 0
        self._active: asyncio.Task[None] | None = None
        self._active_id: str | None = None
        self._ids = itertools.count(1)
        self._vad_speaking = False
        self._loud_run = 0
        self._quiet_run = 0
        self._user_item: str | None = None
        self._leftover = b""
        self._turn_detection: dict[str, Any] = {}
        self._loud = audio.loud_table(server.vad_level)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.index}_{next(self._ids)}"

    async def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", self._id("event"))
        if self.server.strict:
            try:
                validate_server_event(event)
            except Exception as exc:
                self.server.problems.append(f"fake sent invalid {event.get('type')}: {exc}")
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(event))

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self._session_view({})})
        try:
            async for raw in self.ws:
                await self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            self.closed_at = time.monotonic()
            if self._active is not None:
                self._active.cancel()

    async def _on_message(self, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            self.server.problems.append("client sent a frame that is not JSON")
            return
        if self.server.validate:
            try:
                validate_client_event(event)
            except InvalidClientEvent as exc:
                self.server.problems.append(f"session {self.index}: {exc}")
                await self._error("invalid_event", str(exc)[:500])
                return
        kind = event.get("type")
        if kind != "input_audio_buffer.append":
            self.received.append(event)
        match kind:
            case "input_audio_buffer.append":
                await self._on_audio(base64.b64decode(event["audio"]))
            case "session.update":
                await self._on_session_update(event["session"])
            case "response.create":
                await self._on_response_create()
            case "response.cancel":
                await self._cancel("client_cancelled")
            case "conversation.item.truncate":
                await self._on_truncate(event)
            case "conversation.item.create":
                await self._on_item_create(event["item"])
            case _:
                pass

    # -- session --------------------------------------------------------------------------------

    def _session_view(self, session: dict[str, Any]) -> dict[str, Any]:
        view: dict[str, Any] = {"type": "realtime", "id": f"sess_{self.index}",
                                "object": "realtime.session", "model": "gpt-realtime-mini"}
        for key in ("instructions", "output_modalities", "tools", "tool_choice"):
            if key in session:
                view[key] = session[key]
        if "audio" in session:
            view["audio"] = session["audio"]
        return view

    async def _on_session_update(self, session: dict[str, Any]) -> None:
        self.session_updates.append(session)
        td = ((session.get("audio") or {}).get("input") or {}).get("turn_detection")
        if td is not None:
            self._turn_detection = td
        await self.send({"type": "session.updated", "session": self._session_view(session)})

    # -- the caller's audio and the VAD ---------------------------------------------------------

    async def _on_audio(self, data: bytes) -> None:
        if self.caller_tag is None:
            self.caller_tag = audio.find_tag(data)
        self.audio_in_bytes += len(data)
        data = self._leftover + data
        whole = len(data) - len(data) % audio.FRAME
        self._leftover = data[whole:]
        srv = self.server
        for off in range(0, whole, audio.FRAME):
            frame = data[off:off + audio.FRAME]
            loud = frame.translate(self._loud).count(1) >= audio.FRAME * srv.vad_fraction
            if not self._vad_speaking:
                self._loud_run = self._loud_run + 1 if loud else 0
                if self._loud_run * 20 >= srv.vad_start_ms:
                    await self._speech_started()
            else:
                self._quiet_run = 0 if loud else self._quiet_run + 1
                if self._quiet_run * 20 >= srv.vad_silence_ms:
                    await self._speech_stopped()

    def _position_ms(self) -> int:
        return (self.audio_in_bytes - len(self._leftover)) // audio.BYTES_PER_MS

    async def _speech_started(self) -> None:
        self._vad_speaking, self._quiet_run = True, 0
        self._user_item = self._id("item")
        self.speech_started_at.append(time.monotonic())
        await self.send({"type": "input_audio_buffer.speech_started",
                         "item_id": self._user_item,
                         "audio_start_ms": max(0, self._position_ms() - self.server.vad_start_ms)})
        if self._turn_detection.get("interrupt_response", True):
            await self._cancel("turn_detected")

    async def _speech_stopped(self) -> None:
        self._vad_speaking, self._loud_run = False, 0
        item_id = self._user_item or self._id("item")
        previous = self.order[-1] if self.order else None
        await self.send({"type": "input_audio_buffer.speech_stopped", "item_id": item_id,
                         "audio_end_ms": self._position_ms()})
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id,
                         "previous_item_id": previous})
        item = {"id": item_id, "type": "message", "role": "user", "status": "completed",
                "object": "realtime.item",
                "content": [{"type": "input_audio", "transcript": None}]}
        self._add_item(_Item(item_id, "message", "user"))
        await self.send({"type": "conversation.item.added", "item": item,
                         "previous_item_id": previous})
        transcript = self.server.next_transcript()
        self.items[item_id].text = transcript
        await self.send({
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item_id, "content_index": 0, "transcript": transcript,
            "usage": {"type": "tokens", "input_tokens": 40, "output_tokens": 8,
                      "total_tokens": 48},
        })
        if self._turn_detection.get("create_response", True) and self._active is None:
            self._start_response()

    def _add_item(self, item: _Item) -> None:
        self.items[item.id] = item
        self.order.append(item.id)

    # -- client items ---------------------------------------------------------------------------

    async def _on_item_create(self, item: dict[str, Any]) -> None:
        item_id = item.get("id") or self._id("item")
        kind = item.get("type", "")
        stored = _Item(item_id, kind, item.get("role"), call_id=item.get("call_id"))
        if kind == "function_call_output":
            self.tool_outputs.append(item)
        elif kind == "message":
            stored.text = " ".join(str(c.get("text", "")) for c in item.get("content", []))
        previous = self.order[-1] if self.order else None
        self._add_item(stored)
        view = {"id": item_id, "object": "realtime.item", "status": "completed", **item}
        await self.send({"type": "conversation.item.added", "item": view,
                         "previous_item_id": previous})
        await self.send({"type": "conversation.item.done", "item": view,
                         "previous_item_id": previous})
        if kind == "function_call_output" and self.server.respond_to_tool_output and (
            self._active is None
        ):
            # The race real servers produce: a response starts before the client asks for it.
            self._start_response()

    async def _on_truncate(self, event: dict[str, Any]) -> None:
        item = self.items.get(event["item_id"])
        end = int(event["audio_end_ms"])
        if item is None or item.role != "assistant" or not item.audio_bytes:
            self.server.problems.append(f"truncate of {event['item_id']}: not model audio")
            await self._error("unsupported_content_type",
                              "Only model output audio messages can be truncated")
            return
        length = item.audio_bytes // audio.BYTES_PER_MS
        if end > length:
            self.server.problems.append(f"truncate past the end: {end} > {length} ms")
            await self._error("invalid_value",
                              f"Audio content of {length}ms is already shorter than {end}ms")
            return
        self.truncations.append(Truncation(item.id, end, time.monotonic()))
        await self.send({"type": "conversation.item.truncated", "item_id": item.id,
                         "content_index": int(event["content_index"]), "audio_end_ms": end})

    async def _error(self, code: str, message: str) -> None:
        self.errors_sent.append(code)
        await self.send({"type": "error", "error": {"type": "invalid_request_error",
                                                    "code": code, "message": message}})

    # -- responses ------------------------------------------------------------------------------

    async def _on_response_create(self) -> None:
        self.response_creates += 1
        if self._active is not None:
            await self._error("conversation_already_has_active_response",
                              "Conversation already has an active response in progress")
            return
        self._start_response()

    def _start_response(self) -> None:
        step = self.server.next_step(self)
        rid = self._id("resp")
        self._active_id = rid
        self.responses.append(rid)
        self._active = asyncio.ensure_future(self._respond(rid, step))

    async def _cancel(self, reason: str) -> None:
        task, rid = self._active, self._active_id
        if task is None or rid is None:
            if reason == "client_cancelled":
                await self._error("response_cancel_not_active", "no active response")
            return
        self._active = self._active_id = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.send({"type": "response.done", "response": {
            "id": rid, "object": "realtime.response", "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": reason}, "output": [],
            "usage": _usage(0, 0)}})

    async def _respond(self, rid: str, step: Step) -> None:
        await self.send({"type": "response.created", "response": {
            "id": rid, "object": "realtime.response", "status": "in_progress", "output": []}})
        output: list[dict[str, Any]] = []
        spoken_ms = 0
        if isinstance(step, Say):
            text, ms = step.text, step.ms
        else:
            text, ms = step.say or "", step.say_ms
        if text:
            item = await self._speak(rid, len(output), text, ms)
            output.append(item)
            spoken_ms = self.items[item["id"]].audio_bytes // audio.BYTES_PER_MS
        if isinstance(step, CallTool):
            output.append(await self._function_call(rid, len(output), step))
        self._active = self._active_id = None
        await self.send({"type": "response.done", "response": {
            "id": rid, "object": "realtime.response", "status": "completed", "output": output,
            "usage": _usage(len(text), spoken_ms)}})

    async def _speak(self, rid: str, index: int, text: str, ms: int | None) -> dict[str, Any]:
        srv = self.server
        item_id = self._id("item")
        previous = self.order[-1] if self.order else None
        item = _Item(item_id, "message", "assistant", text=text)
        self._add_item(item)
        view: dict[str, Any] = {"id": item_id, "object": "realtime.item", "type": "message",
                                "role": "assistant", "status": "in_progress", "content": []}
        base = {"response_id": rid, "item_id": item_id, "output_index": index,
                "content_index": 0}
        await self.send({"type": "response.output_item.added", "response_id": rid,
                         "output_index": index, "item": view})
        await self.send({"type": "conversation.item.added", "item": view,
                         "previous_item_id": previous})
        await self.send({"type": "response.content_part.added", **base,
                         "part": {"type": "audio", "transcript": ""}})
        await self.send({"type": "response.output_audio_transcript.delta", **base,
                         "delta": text})
        sound = srv.audio_for(text, ms)
        chunk = srv.chunk_ms * audio.BYTES_PER_MS
        if srv.first_audio_delay_ms:
            await asyncio.sleep(srv.first_audio_delay_ms / 1000)
        started = time.monotonic()
        for n, off in enumerate(range(0, len(sound), chunk)):
            piece = sound[off:off + chunk]
            if n == 0:
                self.first_delta_at.append(time.monotonic())
            item.audio_bytes += len(piece)
            await self.send({"type": "response.output_audio.delta", **base,
                             "delta": base64.b64encode(piece).decode()})
            # Faster than real time, as the real model makes audio.
            due = started + (off + len(piece)) / audio.BYTES_PER_MS / 1000 / srv.pace
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await self.send({"type": "response.output_audio.done", **base})
        await self.send({"type": "response.output_audio_transcript.done", **base,
                         "transcript": text})
        part = {"type": "audio", "transcript": text}
        await self.send({"type": "response.content_part.done", **base, "part": part})
        done = {**view, "status": "completed",
                "content": [{"type": "output_audio", "transcript": text}]}
        await self.send({"type": "response.output_item.done", "response_id": rid,
                         "output_index": index, "item": done})
        await self.send({"type": "conversation.item.done", "item": done,
                         "previous_item_id": previous})
        return done

    async def _function_call(self, rid: str, index: int, step: CallTool) -> dict[str, Any]:
        item_id, call_id = self._id("item"), self._id("call")
        args = json.dumps(step.arguments)
        self._add_item(_Item(item_id, "function_call", call_id=call_id))
        view = {"id": item_id, "object": "realtime.item", "type": "function_call",
                "status": "in_progress", "call_id": call_id, "name": step.name, "arguments": ""}
        await self.send({"type": "response.output_item.added", "response_id": rid,
                         "output_index": index, "item": view})
        await self.send({"type": "response.function_call_arguments.delta", "response_id": rid,
                         "item_id": item_id, "output_index": index, "call_id": call_id,
                         "delta": args})
        await self.send({"type": "response.function_call_arguments.done", "response_id": rid,
                         "item_id": item_id, "output_index": index, "call_id": call_id,
                         "name": step.name, "arguments": args})
        done = {**view, "status": "completed", "arguments": args}
        await self.send({"type": "response.output_item.done", "response_id": rid,
                         "output_index": index, "item": done})
        return done

    # -- failure on cue -------------------------------------------------------------------------

    def drop(self) -> None:
        """The network goes away: no close frame, the TCP connection just ends."""
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


def _usage(text_chars: int, audio_ms: int) -> dict[str, Any]:
    text_out, audio_out = max(1, text_chars // 4), audio_ms // 50
    return {
        "total_tokens": 300 + text_out + audio_out, "input_tokens": 300,
        "output_tokens": text_out + audio_out,
        "input_token_details": {"text_tokens": 200, "audio_tokens": 100, "cached_tokens": 128,
                                "cached_tokens_details": {"text_tokens": 128,
                                                          "audio_tokens": 0}},
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


class FakeRealtimeServer:
    """`async with FakeRealtimeServer(script=[...]) as server:` then point Luna at `server.url`."""

    def __init__(
        self,
        script: Sequence[Step] = (),
        *,
        transcripts: Sequence[str] = (),
        script_for: Callable[[FakeSession, int], Step] | None = None,
        pace: float = 4.0,
        chunk_ms: int = 100,
        first_audio_delay_ms: int = 0,
        vad_level: int = 8,
        vad_fraction: float = 0.3,
        vad_start_ms: int = 40,
        vad_silence_ms: int = 300,
        strict: bool = True,
        validate: bool = True,
        use_espeak: bool = False,
        respond_to_tool_output: bool = False,
    ) -> None:
        self.script = list(script)
        self.transcripts = list(transcripts)
        self.script_for = script_for
        self.pace = pace
        self.chunk_ms = chunk_ms
        self.first_audio_delay_ms = first_audio_delay_ms
        self.vad_level = vad_level
        self.vad_fraction = vad_fraction
        self.vad_start_ms = vad_start_ms
        self.vad_silence_ms = vad_silence_ms
        self.strict = strict
        self.validate = validate
        self.use_espeak = use_espeak
        self.respond_to_tool_output = respond_to_tool_output
        self.sessions: list[FakeSession] = []
        self.problems: list[str] = []
        self.refuse = False
        """While True, new connections are refused (503): Realtime is down."""
        self.refused = 0
        self._server: Server | None = None
        self._changed = asyncio.Condition()
        self.url = ""
        self.port = 0

    def next_step(self, session: FakeSession) -> Step:
        if self.script_for is not None:
            return self.script_for(session, len(session.responses))
        return self.script.pop(0) if self.script else DEFAULT_REPLY

    def next_transcript(self) -> str:
        return self.transcripts.pop(0) if self.transcripts else "mm-hmm"

    def audio_for(self, text: str, ms: int | None) -> bytes:
        if ms is None and self.use_espeak:
            return audio.speech(text)
        return audio.speech(text, ms or max(200, 60 * len(text)))

    async def __aenter__(self) -> FakeRealtimeServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._admit, compression=None,
            max_size=16 * 1024 * 1024, ping_interval=None, backlog=2048,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/v1"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def _admit(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.refuse:
            self.refused += 1
            return Response(503, "Service Unavailable", Headers(), b"realtime is down")
        if not request.path.startswith("/v1/realtime"):
            return Response(404, "Not Found", Headers(), b"")
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return Response(401, "Unauthorized", Headers(), b"")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        session = FakeSession(self, ws, len(self.sessions))
        self.sessions.append(session)
        await self._notify()
        try:
            await session.run()
        finally:
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """Poll observable state until `predicate()` is truthy (no fixed sleeps in tests)."""
        deadline = time.monotonic() + within
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("fake realtime: condition not met in time")
            await asyncio.sleep(0.005)

    def assert_clean(self) -> None:
        if self.problems:
            raise AssertionError("fake realtime: " + "; ".join(self.problems[:10]))
