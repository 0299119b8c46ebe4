"""A fake OpenAI Realtime endpoint for browser voice tests: HTTP on 127.0.0.1 plus a WebRTC peer.

- `POST /v1/realtime/client_secrets` (server key) checks the GA session and mints `ek_fake_…`.
- `POST /v1/realtime/calls` (ephemeral key, SDP offer) answers with aiortc's SDP and speaks GA
  server events on the browser's "oai-events" data channel: session.created, a user turn whose
  transcript asks for a task, a response that calls `create_task`, and — once the browser sent
  the function_call_output and response.create — a spoken reply, each response.done with usage.

Every server event is validated against the openai SDK's `RealtimeServerEvent` before it is
sent, and every client event the browser sends is kept in `received` for the test to check.
Runs in a thread with its own event loop: `with FakeRealtimePeer() as fake: fake.base_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import threading
import time
import typing
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

import uvicorn
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack
from openai.types.realtime import RealtimeServerEvent, RealtimeSessionCreateRequest
from pydantic import Field, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Expose-Headers": "Location",
}
# The SDK's union is not a pydantic discriminated union; re-wrapping it is (fast, clear errors).
SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(
    Annotated[  # type: ignore[arg-type]
        typing.Union[typing.get_args(typing.get_args(RealtimeServerEvent)[0])],  # noqa: UP007
        Field(discriminator="type"),
    ]
)


@dataclass
class Script:
    """What the fake caller says, which tool the fake model calls, and what it answers."""

    user_text: str = "Please add a task to buy oat milk."
    tool: str = "create_task"
    arguments: dict[str, Any] = field(default_factory=lambda: {"title": "Buy oat milk"})
    reply: str = "Done! Buy oat milk is on your list."
    start_delay_s: float = 0.3


def response_usage(text_in: int, audio_in: int, cached: int, text_out: int,
                   audio_out: int) -> dict[str, Any]:
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0,
                                      "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


class _Call:
    """One WebRTC call: the peer connection and the scripted conversation on its channel."""

    def __init__(self, fake: FakeRealtimePeer, session: dict[str, Any]) -> None:
        self.fake = fake
        self.session = session
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.sink = MediaBlackhole()
        self.channel: RTCDataChannel | None = None
        self.ids = itertools.count(1)
        self.call_id = "call_" + secrets.token_hex(6)
        self.output_seen = False
        self.replied = False
        self.tasks: set[asyncio.Future[None]] = set()
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("track", self._on_track)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):04d}"

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.sink.addTrack(track)

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != "oai-events":
            return
        self.channel = channel
        channel.on("message", self._on_message)
        self._spawn(self._opening())

    async def answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "audio":
                self.pc.addTrack(AudioStreamTrack())
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.sink.start()
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        await self.sink.stop()
        await self.pc.close()

    def send(self, event: dict[str, Any]) -> None:
        event = {"event_id": self._id("event"), **event}
        try:
            SERVER_EVENT.validate_python(event)  # the fake must speak the GA protocol exactly
        except ValidationError as exc:
            self.fake.errors.append(f"{event['type']}: {exc}")
            raise
        assert self.channel is not None
        self.fake.sent.append(event)
        self.channel.send(json.dumps(event))

    async def _opening(self) -> None:
        script = self.fake.script
        self.send({"type": "session.created", "session": self.session})
        await asyncio.sleep(script.start_delay_s)
        user_item = self._id("item")
        self.send({"type": "input_audio_buffer.speech_started", "item_id": user_item,
                   "audio_start_ms": 120})
        self.send({"type": "input_audio_buffer.speech_stopped", "item_id": user_item,
                   "audio_end_ms": 1900})
        self.send({"type": "input_audio_buffer.committed", "item_id": user_item})
        self.send({
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": user_item, "content_index": 0, "transcript": script.user_text,
            "usage": {"type": "tokens", "input_tokens": 30, "output_tokens": 9,
                      "total_tokens": 39},
        })
        response_id = self._id("resp")
        item = {"id": self._id("item"), "type": "function_call", "object": "realtime.item",
                "status": "completed", "call_id": self.call_id, "name": script.tool,
                "arguments": json.dumps(script.arguments)}
        self.send({"type": "response.created", "response": {
            "id": response_id, "object": "realtime.response", "status": "in_progress",
            "output": []}})
        self.send({"type": "response.output_item.added", "response_id": response_id,
                   "output_index": 0, "item": {**item, "status": "in_progress", "arguments": ""}})
        self.send({"type": "response.function_call_arguments.done", "response_id": response_id,
                   "item_id": item["id"], "output_index": 0, "call_id": self.call_id,
                   "name": script.tool, "arguments": item["arguments"]})
        self.send({"type": "response.output_item.done", "response_id": response_id,
                   "output_index": 0, "item": item})
        self.send({"type": "response.done", "response": {
            "id": response_id, "object": "realtime.response", "status": "completed",
            "output": [item], "usage": response_usage(900, 120, 400, 25, 0)}})

    def _on_message(self, raw: str | bytes) -> None:
        event = json.loads(raw)
        self.fake.received.append(event)
        kind = event.get("type")
        if kind == "conversation.item.create":
            item = event.get("item") or {}
            if item.get("type") == "function_call_output" and item.get("call_id") == self.call_id:
                self.output_seen = True
                self.fake.tool_outputs.append(item.get("output", ""))
        elif kind == "response.create" and self.output_seen and not self.replied:
            self.replied = True
            self._spawn(self._reply())
        elif kind == "session.update":
            self.session = {**self.session, **(event.get("session") or {})}
            self.send({"type": "session.updated", "session": self.session})

    async def _reply(self) -> None:
        script = self.fake.script
        response_id, item_id = self._id("resp"), self._id("item")
        message = {"id": item_id, "type": "message", "object": "realtime.item",
                   "role": "assistant", "status": "completed",
                   "content": [{"type": "output_audio", "transcript": script.reply}]}
        self.send({"type": "response.created", "response": {
            "id": response_id, "object": "realtime.response", "status": "in_progress",
            "output": []}})
        self.send({"type": "response.output_item.added", "response_id": response_id,
                   "output_index": 0, "item": {**message, "status": "in_progress",
                                                "content": []}})
        for word in script.reply.split(" "):
            self.send({"type": "response.output_audio_transcript.delta",
                       "response_id": response_id, "item_id": item_id, "output_index": 0,
                       "content_index": 0, "delta": word + " "})
            await asyncio.sleep(0)
        self.send({"type": "response.output_audio_transcript.done", "response_id": response_id,
                   "item_id": item_id, "output_index": 0, "content_index": 0,
                   "transcript": script.reply})
        self.send({"type": "response.output_item.done", "response_id": response_id,
                   "output_index": 0, "item": message})
        self.send({"type": "response.done", "response": {
            "id": response_id, "object": "realtime.response", "status": "completed",
            "output": [message], "usage": response_usage(1100, 150, 900, 40, 310)}})
        self.fake.finished.set()


class FakeRealtimePeer:
    """The fake Realtime service, served from a thread: use as a context manager."""

    def __init__(self, *, api_key: str = "sk-test-fake", script: Script | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.script = script or Script()
        self.now = now
        self.secrets: list[dict[str, Any]] = []
        """The bodies of every client_secrets request, as the server sent them."""
        self.keys: dict[str, tuple[float, dict[str, Any]]] = {}
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.tool_outputs: list[str] = []
        self.offers: list[str] = []
        self.errors: list[str] = []
        self.finished = threading.Event()
        self._calls: list[_Call] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- HTTP ----------------------------------------------------------------------------------

    async def _client_secrets(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        body = await request.json()
        self.secrets.append(body)
        seconds = (body.get("expires_after") or {}).get("seconds", 600)
        if not isinstance(seconds, int) or not 10 <= seconds <= 7200:
            return _error(400, "invalid_value", "expires_after.seconds must be 10..7200")
        try:
            RealtimeSessionCreateRequest.model_validate(body.get("session"))
        except ValidationError as exc:
            return _error(400, "invalid_request_error", str(exc.errors()[0]))
        expires_at = int(self.now()) + seconds
        value = "ek_fake_" + secrets.token_hex(12)
        session = {**body["session"], "id": "sess_" + secrets.token_hex(6),
                   "object": "realtime.session", "expires_at": expires_at}
        self.keys[value] = (expires_at, session)
        return JSONResponse({"value": value, "expires_at": expires_at, "session": session})

    async def _calls_endpoint(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ")
        entry = self.keys.get(key)
        if entry is None or entry[0] < self.now():
            return _error(401, "invalid_api_key", "unknown or expired ephemeral key", CORS)
        if not request.headers.get("content-type", "").startswith("application/sdp"):
            return _error(400, "invalid_request_error", "send the SDP offer as application/sdp",
                          CORS)
        offer = (await request.body()).decode()
        self.offers.append(offer)
        call = _Call(self, entry[1])
        self._calls.append(call)
        answer = await call.answer(offer)
        headers = {**CORS, "Location": f"/v1/realtime/calls/rtc_{secrets.token_hex(6)}"}
        return Response(answer, status_code=201, media_type="application/sdp", headers=headers)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        yield
        for call in self._calls:
            await call.close()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeRealtimePeer:
        app = Starlette(
            routes=[
                Route("/v1/realtime/client_secrets", self._client_secrets, methods=["POST"]),
                Route("/v1/realtime/calls", self._calls_endpoint, methods=["POST", "OPTIONS"]),
            ],
            lifespan=self._lifespan,
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on")
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="fake-realtime", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Realtime server did not start")
            time.sleep(0.02)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeRealtimePeer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def client_events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e.get("type") == kind]


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error",
                                   "code": code, "param": None}}, status_code=status,
                        headers=headers)
