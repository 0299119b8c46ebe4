"""A fake Twilio Media Streams client: what Twilio does on a `<Connect><Stream>` call.

It signs the WebSocket upgrade like Twilio (X-Twilio-Signature over the wss:// URL, empty
params), sends `connected` and `start` (with customParameters), then 20 ms μ-law frames at real
pace (silence, or the caller's speech when told to talk). It plays Luna's audio on a simulated
clock at real time and echoes each mark when the audio before it has played, or at once when a
`clear` discards it, as Twilio does. It records what it heard, when, and how much of it had
played at each clear, which is what barge-in tests and the bench compare against.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from luna.testing import audio


@dataclass(slots=True)
class Clear:
    at: float
    """time.monotonic() when the clear arrived."""
    played_ms: float
    """Luna audio played since the previous clear (or the start) when it arrived."""


@dataclass(slots=True)
class _Segment:
    start: float
    nbytes: int


@dataclass(slots=True)
class _PendingMark:
    name: str
    handle: asyncio.TimerHandle


class FakeCallApi:
    """Twilio's Calls REST resource as an httpx transport: records what call control asked."""

    def __init__(self, account_sid: str = "AC" + "1" * 32) -> None:
        self.account_sid = account_sid
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail_with: int | None = None
        self.on_request: Callable[[str, dict[str, str]], None] | None = None

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        path = request.url.path
        self.requests.append((path, form))
        if self.on_request is not None:
            self.on_request(path, form)
        if self.fail_with:
            return httpx.Response(self.fail_with, json={"code": 20500, "message": "scripted"})
        sid = path.rsplit("/", 1)[-1].removesuffix(".json")
        if sid == "Calls":
            sid = "CA" + uuid.uuid4().hex
        return httpx.Response(201 if path.endswith("Calls.json") else 200,
                              json={"sid": sid, "status": form.get("Status", "queued")})

    def calls_to(self, suffix: str) -> list[dict[str, str]]:
        return [form for path, form in self.requests if path.endswith(suffix)]


def sign_upgrade(auth_token: str, wss_url: str) -> str:
    signature: str = RequestValidator(auth_token).compute_signature(wss_url, {})
    return signature


@dataclass
class FakeTwilioCall:
    """`async with FakeTwilioCall(ws_url, ...) as call:`, `call.talk(ms)`, `await call.stop()`."""

    url: str
    """Where to connect (ws://127.0.0.1:PORT/assistant/voice/stream)."""
    auth_token: str | None
    signed_url: str
    """The public wss:// URL Twilio signs (what Luna's TwiML named)."""
    parameters: dict[str, str] = field(default_factory=dict)
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    stream_sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)
    tag: int | None = None
    """Stamped into silent frames so a fake server can tell which call it hears (the bench)."""
    start_delay_s: float = 0.0
    poll_s: float = 0.005
    """How often wait_for() looks (a bench with hundreds of callers looks less often; what
    it measures is stamped when it happens, not when it is noticed)."""

    ws: ClientConnection | None = None
    media_bytes: int = 0
    media_frames: int = 0
    first_media_at: float | None = None
    media_log: list[tuple[float, int]] = field(default_factory=list)
    clears: list[Clear] = field(default_factory=list)
    marks_echoed: list[str] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    talk_started: list[float] = field(default_factory=list)
    closed_by_luna: int | None = None
    """The close code when Luna closed the stream."""

    _was_quiet: bool = True
    _segments: list[_Segment] = field(default_factory=list)
    _play_end: float = 0.0
    _pending_marks: deque[_PendingMark] = field(default_factory=deque)
    _speech: deque[bytes] = field(default_factory=deque)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _chunks: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def __aenter__(self) -> FakeTwilioCall:
        headers = {}
        if self.auth_token is not None:
            headers["X-Twilio-Signature"] = sign_upgrade(self.auth_token, self.signed_url)
        self.ws = await connect(self.url, additional_headers=headers, compression=None,
                                ping_interval=None, max_size=2**20)
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send({
            "event": "start", "sequenceNumber": str(next(self._seq)), "streamSid": self.stream_sid,
            "start": {
                "streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32,
                "callSid": self.call_sid, "tracks": ["inbound"],
                "customParameters": self.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })
        self._spawn(self._reader())
        self._spawn(self._pump())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.hang_up()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(message))

    async def send_raw(self, text: str | bytes) -> None:
        if self.ws is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    # -- the caller -----------------------------------------------------------------------------

    def talk(self, ms: int, *, freq: float = 220.0) -> None:
        """The caller speaks for `ms` (a loud tone the server VAD hears), then is silent."""
        self.say(audio.tone(ms, freq, 0.5))

    def say(self, sound: bytes) -> None:
        for off in range(0, len(sound), audio.FRAME):
            self._speech.append(sound[off:off + audio.FRAME].ljust(audio.FRAME, b"\xff"))

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid,
                         "sequenceNumber": str(next(self._seq)),
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        """Twilio's end of stream (the caller hung up): `stop`, then the socket closes."""
        await self.send({"event": "stop", "sequenceNumber": str(next(self._seq)),
                         "streamSid": self.stream_sid,
                         "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}})
        await self.hang_up()

    async def hang_up(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for mark in self._pending_marks:
            mark.handle.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)

    async def _pump(self) -> None:
        if self.start_delay_s:
            await asyncio.sleep(self.start_delay_s)
        quiet = audio.tagged_silence(self.tag) if self.tag is not None else audio.silence(20)
        started = time.monotonic()
        for n in itertools.count():
            if self._speech:
                frame = self._speech.popleft()
                if self._was_quiet:
                    self.talk_started.append(time.monotonic())
                self._was_quiet = False
            else:
                frame, self._was_quiet = quiet, True
            chunk = next(self._chunks)
            payload = base64.b64encode(frame).decode()
            await self.send_raw(
                f'{{"event":"media","sequenceNumber":"{chunk + 1}","streamSid":'
                f'"{self.stream_sid}","media":{{"track":"inbound","chunk":"{chunk}",'
                f'"timestamp":"{n * 20}","payload":"{payload}"}}}}'
            )
            delay = started + (n + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    # -- Luna's side: playback on a simulated clock ---------------------------------------------

    async def _reader(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self._on_message(json.loads(raw))
        except ConnectionClosed:
            pass
        self.closed_by_luna = self.ws.close_code

    def _on_message(self, msg: dict[str, Any]) -> None:
        now = time.monotonic()
        match msg.get("event"):
            case "media":
                n = len(base64.b64decode(msg["media"]["payload"]))
                if self.first_media_at is None:
                    self.first_media_at = now
                self.media_bytes += n
                self.media_frames += 1
                self.media_log.append((now, n))
                start = max(now, self._play_end)
                self._segments.append(_Segment(start, n))
                self._play_end = start + n / audio.BYTES_PER_MS / 1000
            case "mark":
                name = msg["mark"]["name"]
                due = max(0.0, self._play_end - now)
                handle = asyncio.get_running_loop().call_later(due, self._echo_due, name)
                self._pending_marks.append(_PendingMark(name, handle))
            case "clear":
                self.clears.append(Clear(now, self.played_ms(now)))
                self._segments.clear()
                self._play_end = now
                pending = list(self._pending_marks)
                self._pending_marks.clear()
                for mark in pending:
                    mark.handle.cancel()
                    self._echo(mark.name)
            case _:
                self.other.append(msg)

    def _echo_due(self, name: str) -> None:
        if self._pending_marks and self._pending_marks[0].name == name:
            self._pending_marks.popleft()
        self._echo(name)

    def _echo(self, name: str) -> None:
        self.marks_echoed.append(name)
        self._spawn(self.send({"event": "mark", "sequenceNumber": str(next(self._seq)),
                               "streamSid": self.stream_sid, "mark": {"name": name}}))

    def bytes_since(self, t: float) -> int:
        """Luna audio that arrived after `t` (e.g. after a clear)."""
        return sum(n for at, n in self.media_log if at > t)

    def played_ms(self, now: float | None = None) -> float:
        """Luna audio the caller has heard since the last clear."""
        t = time.monotonic() if now is None else now
        played = 0.0
        for seg in self._segments:
            if t <= seg.start:
                break
            played += min((t - seg.start) * 1000 * audio.BYTES_PER_MS, seg.nbytes)
        return played / audio.BYTES_PER_MS

    @property
    def playing(self) -> bool:
        return time.monotonic() < self._play_end

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("fake Twilio: condition not met in time")
            await asyncio.sleep(self.poll_s)

    async def closed(self, within: float = 5.0) -> None:
        assert self.ws is not None
        await asyncio.wait_for(self.ws.wait_closed(), within)
