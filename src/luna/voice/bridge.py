"""The phone call loop: one `CallSession` per call bridges Twilio's Media Stream and an OpenAI
Realtime session (GA, official SDK), μ-law straight through both ways.

The rules that other bridges got wrong (shared/reference/voice-protocol.md §C, §E):
- barge-in: on `speech_started` send Twilio `clear` first, then truncate the playing item at
  min(played, received), and only when unheard audio remains; marks and audio deltas from before
  the clear are ignored (playback generations, muted responses);
- one `response.create` in flight; tool outputs are answered once the server has them;
- every `session.update` re-asserts audio/pcmu; the voice goes only into a session's first one;
- the OpenAI socket closes the moment the caller hangs up;
- a dropped socket or the 60-minute cap → a fresh session rebuilt from the transcript; if that
  fails, the live call moves to the <Gather> path instead of dropping.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import re
import time
from binascii import a2b_base64, b2a_base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
import structlog
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from starlette.types import Receive, Send
from starlette.websockets import WebSocket
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from luna.brain.agents import (
    LUNA,
    Agent,
    agent_instructions,
    agent_realtime_session,
    build_agents,
    handoff_target,
)
from luna.brain.persona import member_context
from luna.brain.recording import TurnRegistry, action_from
from luna.brain.types import Action, ConversationInput, ConversationResult
from luna.config import Settings
from luna.errors import Conflict, LunaError
from luna.services.access import ADMIN
from luna.services.container import Services
from luna.services.members import MemberOut
from luna.tools.context import ToolContext
from luna.tools.registry import Registry
from luna.voice import realtime_events as rt
from luna.voice.calls import CallControl, OutboundCalls, webhook_url
from luna.voice.direct_receive import direct_receive, direct_send
from luna.voice.playback import PlaybackTracker
from luna.voice.realtime_send import Write, audio_sender, immediate_writer
from luna.voice.transcript import CallLog, Tally, usage_items
from luna.voice.twilio_codec import (
    Media,
    Start,
    b64_len,
    decode,
    encode_clear,
    encode_mark,
    encode_media,
)

log = structlog.get_logger(__name__)

HANG_UP = "hang_up"
HANG_UP_TOOL: dict[str, Any] = {
    "type": "function",
    "name": HANG_UP,
    "description": (
        "End the phone call. First say a short, warm goodbye in the same turn; call this only "
        "when the member is done or asks you to hang up."
    ),
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
}
INPUT_FRAMES = 3
"""Twilio's 20 ms frames per input_audio_buffer.append: 60 ms cuts the sends by two thirds and
delays speech detection by at most 40 ms (the agents SDK's Twilio example buffers 50 ms)."""
MARK_EVERY_MS = 200
"""A mark per ~200 ms of audio (and at the end of each response), however OpenAI chunks its
deltas: the tracker extrapolates between marks, so more marks would buy no accuracy."""
BRIEFING_CONCURRENCY = 4
PREWARM_WAIT_S = 12.0
START_TIMEOUT_S = 10.0
OPEN_ATTEMPTS = 3
OPEN_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 0.5
HANG_UP_WAIT_S = 15.0
TOOL_GRACE_S = 3.0
HISTORY_TURNS = 40
MAX_PENDING_FRAMES = 100
"""Twilio frames (2 s) held while OpenAI's socket is not taking audio; older ones are dropped."""


def _ms() -> float:
    return time.monotonic() * 1000.0


@dataclass(frozen=True, slots=True)
class CallParty:
    member: MemberOut
    direction: str
    purpose: str | None
    context: str
    """Member context, call context and today's briefing, the same for every agent."""


@dataclass(slots=True)
class Prepared:
    conn: AsyncRealtimeConnection
    cfg: rt.SessionConfig
    party: CallParty


class VoiceHub:
    """Per-app voice state: the OpenAI client, sockets pre-warmed at the webhook, call control,
    and the calls in progress. Built once by the voice channel; closed with the app."""

    def __init__(
        self, settings: Settings, services: Services, registry: Registry,
        control: CallControl | None = None,
        converse: Callable[[ConversationInput], Awaitable[ConversationResult]] | None = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.registry = registry
        self.agents: dict[str, Agent] = build_agents(registry)
        self._tools: dict[str, tuple[dict[str, Any], ...]] = {}
        self._briefing_gate = asyncio.Semaphore(BRIEFING_CONCURRENCY)
        self.control = control or CallControl(settings)
        self.outbound = OutboundCalls(settings, services, self.control)
        self._converse = converse
        self._brain: Any = None
        self._client: AsyncOpenAI | None = None
        self._prewarmed: dict[str, asyncio.Task[Prepared]] = {}
        self._prewarm_members: dict[str, MemberOut] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sessions: set[CallSession] = set()
        self.finished: list[CallSession] = []
        """Recently ended calls (bounded), for tests and the bench."""
        self.ended_by_luna: set[str] = set()
        """Calls Luna ended or moved on: a late <Redirect> from their TwiML must not resume."""

    @property
    def realtime_enabled(self) -> bool:
        key = self.settings.openai_api_key
        return key is not None and bool(key.get_secret_value())

    # -- OpenAI ---------------------------------------------------------------------------------

    def client(self) -> AsyncOpenAI:
        if self._client is None:
            key = self.settings.openai_api_key
            self._client = AsyncOpenAI(
                api_key=key.get_secret_value() if key else "",
                base_url=self.settings.openai_base_url or None,
                websocket_base_url=self.settings.openai_realtime_url or None,
            )
        return self._client

    @cached_property
    def realtime_proxy(self) -> str | None:
        """The proxy for OpenAI's Realtime socket, found in the environment as websockets finds
        it, but once per process: websockets would scan the whole environment on every call's
        connect (a quarter of the connect's CPU)."""
        s = self.settings
        url = re.sub(r"^http", "ws", s.openai_realtime_url or s.openai_base_url
                     or "https://api.openai.com/v1")
        try:
            return get_proxy(parse_uri(url))
        except ValueError:  # not a ws/wss URL: the SDK's connect reports it
            return None

    async def open_realtime(self) -> AsyncRealtimeConnection:
        # permessage-deflate costs CPU on every audio frame for no gain on μ-law.
        options: Any = {"max_size": 16 * 1024 * 1024, "compression": None,
                        "close_timeout": CLOSE_TIMEOUT_S, "open_timeout": OPEN_TIMEOUT_S,
                        "proxy": self.realtime_proxy}
        manager = self.client().realtime.connect(
            model=self.settings.realtime_model, websocket_connection_options=options
        )
        return await manager.enter()

    # -- what Luna knows when a call starts -----------------------------------------------------

    async def party(self, member: MemberOut, direction: str, purpose: str | None) -> CallParty:
        svc = self.services
        actor = ToolContext(services=svc, member=member, channel="voice").actor
        try:
            recent = await svc.interactions.recent_summary(member.id, limit=6,
                                                           tz=member.timezone)
        except LunaError:
            recent = []
        try:
            today = await svc.checkins.today(actor, member.id)
        except LunaError:
            today = None
        parts = [member_context(member, recent, today, now=svc.clock.now()), call_context(
            member, direction, purpose)]
        return CallParty(member, direction, purpose, "\n\n".join(parts))

    async def briefing(self, member: MemberOut) -> str | None:
        """Today's briefing as a note for the model. It comes after the greeting has started,
        so the first words never wait on the day's two dozen queries."""
        ctx = ToolContext(services=self.services, member=member, channel="voice")
        # A burst of calls must not queue the next callers' greetings (and the webhooks' own
        # lookups) behind two dozen reads each.
        async with self._briefing_gate:
            res = await self.registry.invoke("get_daily_briefing", ctx, {})
        if not res.ok:
            return None
        return ("Today's briefing for the member (JSON, for you, not to read out): "
                + json.dumps(res.data, default=str, separators=(",", ":")))

    def session_config(self, party: CallParty, agent: str = LUNA) -> rt.SessionConfig:
        tools = self._tools.get(agent)
        if tools is None:
            # Rendering an agent's tools builds schemas: once per agent, not once per call.
            spec = agent_realtime_session(self.agents[agent], self.registry, channel="voice",
                                          agents=self.agents)
            tools = self._tools[agent] = (*spec["tools"], HANG_UP_TOOL)
        s = self.settings
        return rt.SessionConfig(
            model=s.realtime_model, voice=s.realtime_voice,
            transcription_model=s.realtime_transcription_model,
            instructions=agent_instructions(self.agents[agent], "voice", party.context),
            tools=tools,
        )

    async def prepare(self, member: MemberOut, direction: str, purpose: str | None) -> Prepared:
        party_task = asyncio.ensure_future(self.party(member, direction, purpose))
        try:
            conn = await self.open_realtime()
        except BaseException:
            party_task.cancel()
            raise
        try:
            party = await party_task
            cfg = self.session_config(party)
            await conn.send_raw(rt.dumps(rt.session_update(cfg, with_voice=True)))
        except BaseException:
            await close_quietly(conn)
            raise
        return Prepared(conn, cfg, party)

    # -- pre-warm: the webhook starts the socket so the first words come fast ---------------------

    def prewarm(
        self, call_sid: str, member: MemberOut, direction: str, purpose: str | None
    ) -> None:
        if not call_sid or call_sid in self._prewarmed:
            return
        task = asyncio.ensure_future(self.prepare(member, direction, purpose))
        self._prewarmed[call_sid] = task
        self._prewarm_members[call_sid] = member
        self._own(task)
        asyncio.get_running_loop().call_later(
            self.settings.voice_prewarm_ttl_s, self._expire, call_sid
        )

    def _expire(self, call_sid: str) -> None:
        self._prewarm_members.pop(call_sid, None)
        task = self._prewarmed.pop(call_sid, None)
        if task is not None:
            log.info("prewarm_unused", call_sid=call_sid)
            self._own(asyncio.ensure_future(_discard(task)))

    def prewarmed_member(self, call_sid: str, member_id: str | None) -> MemberOut | None:
        """The member the webhook just looked up for this call (a second ago), if it is the one
        the stream names: the stream need not read it again."""
        member = self._prewarm_members.pop(call_sid, None)
        return member if member is not None and str(member.id) == member_id else None

    async def take(self, call_sid: str) -> Prepared | None:
        self._prewarm_members.pop(call_sid, None)
        task = self._prewarmed.pop(call_sid, None)
        if task is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(task), PREWARM_WAIT_S)
        except Exception as exc:
            log.warning("prewarm_failed", call_sid=call_sid, error=type(exc).__name__)
            self._own(asyncio.ensure_future(_discard(task)))
            return None

    def _own(self, task: asyncio.Task[Any] | asyncio.Future[Any]) -> None:
        t: Any = task
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # -- the Gather path's brain ------------------------------------------------------------------

    async def converse(self, inp: ConversationInput) -> ConversationResult:
        if self._converse is not None:
            return await self._converse(inp)
        if self._brain is None:
            from luna.brain.converse import Brain

            self._brain = Brain(self.services, self.registry, self.settings)
        result: ConversationResult = await self._brain.converse(inp)
        return result

    async def member(self, member_id: str | int | None) -> MemberOut | None:
        try:
            return await self.services.members.get(ADMIN, int(member_id or 0))
        except (LunaError, ValueError):
            return None

    def remember(self, session: CallSession) -> None:
        self.sessions.discard(session)
        self.finished.append(session)
        del self.finished[:-50]

    async def aclose(self) -> None:
        for task in list(self._prewarmed.values()):
            await _discard(task)
        self._prewarmed.clear()
        self._prewarm_members.clear()
        for t in list(self._tasks):
            t.cancel()
        if self._brain is not None:
            with contextlib.suppress(Exception):
                await self._brain.aclose()
        await self.control.aclose()
        if self._client is not None:
            await self._client.close()


def call_context(member: MemberOut, direction: str, purpose: str | None) -> str:
    if direction == "outbound":
        why = (purpose or "a check-in").replace("_", " ")
        lines = [f"You phoned {member.name} for {why}. Open by greeting them and saying why you "
                 "called, in one short sentence."]
    else:
        lines = [f"{member.name} phoned you. Greet them by name, warmly and briefly."]
    lines.append("This is a phone call: short spoken sentences, no lists or markdown. When they "
                 "are done, say goodbye and call hang_up.")
    return "\n".join(lines)


async def close_quietly(conn: AsyncRealtimeConnection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT_S * 2)


async def _discard(task: asyncio.Task[Prepared]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        prepared = await task
        await close_quietly(prepared.conn)


RAW_IO = "luna.stream_io"
"""Scope key of the server's own (receive, send) for the media stream (channels.voice.StreamIO)."""


class CallSession:
    """One phone call. `run()` returns when the call is over and recorded."""

    def __init__(self, hub: VoiceHub, ws: WebSocket) -> None:
        self.hub = hub
        self.ws = ws
        # The frames go straight to the server's receive and send when the app provides them.
        io: tuple[Receive, Send] = ws.scope.get(RAW_IO) or (ws.receive, ws.send)
        self._receive, self._send_raw = io
        self._send_now = direct_send(ws.scope)
        self.settings = hub.settings
        self.tracker = PlaybackTracker()
        self.calllog = CallLog()
        self.tally = Tally()
        self.actions: list[Action] = []
        self.conn: AsyncRealtimeConnection | None = None
        self.cfg: rt.SessionConfig | None = None
        self.party: CallParty | None = None
        self.agent = LUNA
        self.agents_used: list[str] = [LUNA]
        self.stream_sid = ""
        self.call_sid = ""
        self.ended_by = "caller"
        self.reconnects = 0
        self.interruptions = 0
        self.truncates: list[tuple[str, int]] = []
        self.malformed = 0
        self.unknown = 0
        self.oversized = 0
        self.dtmf: list[str] = []
        self.dropped_frames = 0
        self._limit = hub.settings.voice_max_message_bytes
        self._frames: list[str] = []
        self._twilio_over = False
        self._wake: asyncio.Future[None] | None = None
        self.interaction_id: int | None = None
        self.briefing: str | None = None
        self._t0 = 0.0
        self._ending = asyncio.Event()
        self._quiet = asyncio.Event()
        self._active: str | None = None
        self._create_pending = False
        self._unanswered: set[str] = set()
        self._in_conversation: set[str] = set()
        self._muted: set[str] = set()
        self._calls_seen: set[str] = set()
        self._turn_response: dict[str, str] = {}
        self._tool_tasks: set[asyncio.Task[None]] = set()
        self._hanging_up = False
        self._user_speaking = False
        self._tg: asyncio.TaskGroup | None = None
        self._rollover_task: asyncio.Task[None] | None = None
        self._sender: tuple[AsyncRealtimeConnection, Callable[[str], Awaitable[None]]] | None = None
        self._writer: tuple[AsyncRealtimeConnection, Write | None] | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio.done": self._on_audio_done,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.committed": self._on_committed,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
            "response.output_item.added": self._on_output_item,
            "response.output_audio_transcript.delta": self._on_transcript_delta,
            "response.output_audio_transcript.done": self._on_transcript_done,
            "conversation.item.input_audio_transcription.completed": self._on_user_transcript,
            "response.function_call_arguments.done": self._on_function_call,
            "conversation.item.added": self._on_item_added,
            "conversation.item.created": self._on_item_added,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
        }

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        start = await self._await_start()
        if start is None:
            return
        self._t0 = time.monotonic()
        self.stream_sid, self.call_sid = start.stream_sid, start.call_sid
        params = start.custom_parameters
        member = self.hub.prewarmed_member(self.call_sid, params.get("member")) or (
            await self.hub.member(params.get("member")))
        if member is None:
            log.warning("voice_unknown_member", call_sid=self.call_sid)
            await self._close_twilio()
            return
        direction = "outbound" if params.get("direction") == "outbound" else "inbound"
        purpose = params.get("purpose") or None
        self.party = CallParty(member, direction, purpose, "")
        self.hub.sessions.add(self)
        log.info("call_started", call_sid=self.call_sid, direction=direction, purpose=purpose)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                realtime = tg.create_task(self._realtime_main(member, direction, purpose))
                try:
                    await self._twilio_loop()
                finally:
                    self._ending.set()
                    self._cut_unheard()
                    await self._close_conn()
                    await self._finish_tools()
                    realtime.cancel()
                    if self._rollover_task is not None:
                        self._rollover_task.cancel()
        except* Exception as group:
            for exc in group.exceptions:
                log.error("call_failed", call_sid=self.call_sid,  # noqa: TRY400
                          error=f"{type(exc).__name__}: {exc}")
        finally:
            await self._close_conn()
            await self._record()
            self.hub.remember(self)
            log.info("call_ended", call_sid=self.call_sid, ended_by=self.ended_by)

    async def _await_start(self) -> Start | None:
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while True:
                    msg = await self.ws.receive()
                    if msg["type"] == "websocket.disconnect":
                        return None
                    raw = msg.get("text") or msg.get("bytes")
                    if not raw or len(raw) > self.settings.voice_max_message_bytes:
                        continue
                    ev = decode(raw)
                    if isinstance(ev, Start):
                        return ev
        except TimeoutError:
            log.warning("voice_no_start")
            await self._close_twilio()
            return None

    async def _twilio_loop(self) -> None:
        # With direct receive the server hands each frame to _on_twilio from its read callback
        # (no queue, no task wake-up per frame), and receive() brings only the disconnect; on
        # another server receive() brings every frame. Either way this task wakes once per
        # batch that could not be written at once, to send it on.
        attach = direct_receive(self.ws.scope)
        if attach is not None:
            attach(self._on_twilio)
        loop = asyncio.get_running_loop()
        reader = asyncio.ensure_future(self._read_twilio())
        try:
            while not self._twilio_over:
                if len(self._frames) >= INPUT_FRAMES:
                    frames, self._frames = self._frames, []
                    await self._append(frames)
                    continue
                self._wake = loop.create_future()
                try:
                    await self._wake
                finally:
                    self._wake = None
        finally:
            reader.cancel()

    async def _read_twilio(self) -> None:
        receive = self._receive
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                break
            raw = msg.get("text")
            if raw is None:
                raw = msg.get("bytes")
            if raw is not None:
                self._on_twilio(raw)
        self._twilio_over = True
        self._wake_up()

    def _wake_up(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _on_twilio(self, raw: str | bytes) -> None:
        """One message from Twilio. Synchronous: it may run inside the server's read callback."""
        if len(raw) > self._limit:
            self.oversized += 1
            return
        ev = decode(raw)
        if type(ev) is Media:
            if self.conn is None:
                self._frames.clear()
                return
            frames = self._frames
            frames.append(ev.payload_b64)
            if len(frames) >= INPUT_FRAMES:
                if self._wake is not None and self._flush_now():
                    return  # the pump is idle: nothing sent before these is still waiting
                if len(frames) > MAX_PENDING_FRAMES:
                    # OpenAI is not taking audio as fast as the caller speaks: old audio is
                    # worth less than a growing delay, and memory stays bounded.
                    self.dropped_frames += len(frames) - MAX_PENDING_FRAMES
                    del frames[:-MAX_PENDING_FRAMES]
                self._wake_up()
            return
        match ev.type:
            case "mark":
                tracker = self.tracker
                if tracker.on_mark(ev.name, _ms()) and tracker.idle:
                    self._poke()
            case "stop":
                self._twilio_over = True
                self._wake_up()
            case "dtmf":
                self.dtmf.append(ev.digit)
            case "malformed":
                self.malformed += 1
                log.info("twilio_malformed", call_sid=self.call_sid, reason=ev.reason)
            case "unknown":
                self.unknown += 1
            case _:
                pass

    def _payload(self, frames: list[str]) -> str | None:
        if len(frames) == 1:
            return frames[0]
        try:
            # binascii, not base64's wrappers: same (lenient) decoding, a third of the calls.
            return b2a_base64(b"".join(map(a2b_base64, frames)), newline=False).decode()
        except (binascii.Error, ValueError):
            self.malformed += 1
            return None

    def _flush_now(self) -> bool:
        """Send the pending frames from here, without awaiting, if the socket takes them at
        once (realtime_send.immediate_writer); False leaves them for the awaited path."""
        conn = self.conn
        if conn is None:
            return False
        if self._writer is None or self._writer[0] is not conn:
            self._writer = (conn, immediate_writer(conn))
        write = self._writer[1]
        if write is None:
            return False
        payload = self._payload(self._frames)
        if payload is not None and not write(rt.audio_append(payload)):
            return False
        self._frames = []
        return True

    async def _append(self, frames: list[str]) -> None:
        payload = self._payload(frames)
        conn = self.conn
        if payload is None or conn is None:
            return
        if self._sender is None or self._sender[0] is not conn:
            self._sender = (conn, audio_sender(conn))
        # A send on a socket that just dropped is lost audio; the reader notices and reconnects.
        with contextlib.suppress(Exception):
            await self._sender[1](rt.audio_append(payload))

    async def _realtime_main(self, member: MemberOut, direction: str, purpose: str | None) -> None:
        prepared = await self.hub.take(self.call_sid)
        if prepared is None:
            prepared = await self._open_fresh(member, direction, purpose)
            if prepared is None:
                await self._fallback("realtime_unavailable")
                return
        self.party, self.cfg, self.conn = prepared.party, prepared.cfg, prepared.conn
        await self._request_response()
        assert self._tg is not None
        self._tg.create_task(self._brief(member))
        self._rollover_task = self._tg.create_task(self._rollover())
        await self._read_loop()

    async def _brief(self, member: MemberOut) -> None:
        try:
            self.briefing = await self.hub.briefing(member)
        except Exception:
            log.exception("briefing_failed", call_sid=self.call_sid)
            return
        if self.briefing:
            await self._send(rt.message("system", self.briefing))

    async def _open_fresh(
        self, member: MemberOut, direction: str, purpose: str | None
    ) -> Prepared | None:
        for attempt in range(OPEN_ATTEMPTS):
            try:
                return await asyncio.wait_for(
                    self.hub.prepare(member, direction, purpose), OPEN_TIMEOUT_S
                )
            except Exception as exc:
                log.warning("realtime_open_failed", call_sid=self.call_sid, attempt=attempt,
                            error=type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        return None

    async def _read_loop(self) -> None:
        handlers = self._handlers
        while not self._ending.is_set():
            conn = self.conn
            if conn is None:
                return
            try:
                raw = await conn.recv_bytes()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._ending.is_set():
                    return
                if conn is not self.conn:
                    continue  # rolled over to a new session while we waited
                if not await self._reopen("dropped"):
                    return
                continue
            try:
                # orjson: an audio delta is ~1 KB of JSON, tens of them a second per call.
                ev = orjson.loads(raw)
                handler = handlers.get(ev.get("type"))
            except (ValueError, AttributeError):
                continue
            if handler is not None:
                await handler(ev)

    async def _close_conn(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await close_quietly(conn)

    async def _close_twilio(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def _finish_tools(self) -> None:
        if self._tool_tasks:
            _, pending = await asyncio.wait(set(self._tool_tasks), timeout=TOOL_GRACE_S)
            for t in pending:
                t.cancel()

    def _is_quiet(self, between_turns: bool = False) -> bool:
        if self._active is not None or not self.tracker.idle:
            return False
        return not between_turns or not (self._tool_tasks or self._user_speaking)

    def _poke(self) -> None:
        if self._is_quiet():
            self._quiet.set()

    async def _until_quiet(self, limit_s: float, *, between_turns: bool = False) -> None:
        """Wait until Luna is not speaking: no response running and all her audio played."""
        deadline = time.monotonic() + limit_s
        while not self._is_quiet(between_turns) and not self._ending.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._quiet.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), min(left, 0.5))

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, event: dict[str, Any]) -> bool:
        conn = self.conn
        if conn is None:
            return False
        try:
            await conn.send_raw(rt.dumps(event))
        except Exception:
            return False
        return True

    async def _to_twilio(self, *texts: str) -> None:
        # With the server's immediate send (direct_receive), several messages go in one write.
        if self._send_now is not None and self._send_now(*texts):
            return
        with contextlib.suppress(Exception):
            for text in texts:
                await self._send_raw({"type": "websocket.send", "text": text})

    async def _request_response(self) -> None:
        """At most one response.create in flight; a busy server hears it after response.done."""
        if self._active is not None or self._create_pending or self._hanging_up:
            return
        if await self._send(rt.response_create()):
            self._create_pending = True

    # -- server events --------------------------------------------------------------------------

    async def _on_audio_delta(self, ev: dict[str, Any]) -> None:
        item_id = ev.get("item_id") or ""
        delta = ev.get("delta") or ""
        n = b64_len(delta)
        turn = self.calllog.by_item.get(item_id)
        if turn is None:
            turn = self.calllog.turn("assistant", item_id, self.agent)
        turn.audio_ms += n / 8
        if ev.get("response_id") in self._muted or not n:
            return
        tracker = self.tracker
        tracker.on_audio(item_id, int(ev.get("content_index") or 0), n, _ms(), mark=False)
        media = encode_media(self.stream_sid, delta)
        name = tracker.mark() if tracker.unmarked_ms >= MARK_EVERY_MS else None
        if name is None:
            await self._to_twilio(media)
        else:  # the audio and its mark, in one write when the server can
            await self._to_twilio(media, encode_mark(self.stream_sid, name))

    async def _mark(self) -> None:
        name = self.tracker.mark()
        if name is not None:
            await self._to_twilio(encode_mark(self.stream_sid, name))

    async def _on_audio_done(self, ev: dict[str, Any]) -> None:
        if ev.get("response_id") not in self._muted:
            await self._mark()

    async def _on_speech_started(self, ev: dict[str, Any]) -> None:
        now = _ms()
        if self._active is not None:
            self._muted.add(self._active)
        tracker = self.tracker
        if not tracker.idle:
            self.interruptions += 1
            point = tracker.truncate_point(now)
            await self._to_twilio(encode_clear(self.stream_sid))
            for turn in self.calllog.turns:
                in_active = self._active is not None and (
                    self._turn_response.get(turn.item_id) == self._active
                )
                if turn.role == "assistant" and turn.heard_ms is None and (
                    in_active or tracker.received_ms(turn.item_id) > 0
                ):
                    turn.heard_ms = tracker.played_ms(turn.item_id, 0, now)
            tracker.on_clear()
            if point is not None:
                item_id, content_index, end_ms = point
                self.calllog.turn("assistant", item_id).heard_ms = end_ms
                self.truncates.append((item_id, end_ms))
                await self._send(rt.truncate(item_id, content_index, end_ms))
        elif self._active is not None:
            # Muted before any of its audio reached Twilio: the caller heard none of it.
            for unheard_id, rid in self._turn_response.items():
                unheard = self.calllog.by_item.get(unheard_id)
                if rid == self._active and unheard is not None and unheard.heard_ms is None:
                    unheard.heard_ms = 0.0
        self._user_speaking = True
        if ev.get("item_id"):
            self.calllog.turn("user", str(ev["item_id"]))

    async def _on_committed(self, ev: dict[str, Any]) -> None:
        self._user_speaking = False
        if ev.get("item_id"):
            self.calllog.turn("user", ev["item_id"])

    async def _on_response_created(self, ev: dict[str, Any]) -> None:
        self._active = (ev.get("response") or {}).get("id") or "?"
        self._create_pending = False
        self._unanswered -= self._in_conversation

    async def _on_response_done(self, ev: dict[str, Any]) -> None:
        response = ev.get("response") or {}
        self.tally.add_response(response.get("usage"))
        self._active = None
        await self._mark()
        if self._unanswered:
            await self._request_response()
        self._poke()

    async def _on_output_item(self, ev: dict[str, Any]) -> None:
        item = ev.get("item") or {}
        if item.get("type") == "message" and item.get("id"):
            self.calllog.turn("assistant", item["id"], self.agent)
            self._turn_response[item["id"]] = ev.get("response_id") or ""

    async def _on_transcript_delta(self, ev: dict[str, Any]) -> None:
        self.calllog.turn("assistant", ev.get("item_id") or "", self.agent).text += (
            ev.get("delta") or ""
        )

    async def _on_transcript_done(self, ev: dict[str, Any]) -> None:
        turn = self.calllog.turn("assistant", ev.get("item_id") or "", self.agent)
        turn.text = ev.get("transcript") or turn.text

    async def _on_user_transcript(self, ev: dict[str, Any]) -> None:
        self.calllog.turn("user", ev.get("item_id") or "").text = ev.get("transcript") or ""
        self.tally.add_transcription(ev.get("usage"))

    async def _on_item_added(self, ev: dict[str, Any]) -> None:
        item = ev.get("item") or {}
        if item.get("type") == "function_call_output" and item.get("call_id"):
            self._in_conversation.add(item["call_id"])

    async def _on_session_updated(self, ev: dict[str, Any]) -> None:
        audio = (ev.get("session") or {}).get("audio") or {}
        formats = [((audio.get(k) or {}).get("format") or {}).get("type")
                   for k in ("input", "output")]
        if any(f not in (None, "audio/pcmu") for f in formats):
            # The server applied something else than μ-law: the caller would hear static.
            log.error("realtime_format_mismatch", call_sid=self.call_sid, formats=formats)
            if self.cfg is not None:
                await self._send(rt.session_update(self.cfg, with_voice=False))

    async def _on_error(self, ev: dict[str, Any]) -> None:
        err = ev.get("error") or {}
        code = err.get("code")
        if code == "conversation_already_has_active_response":
            self._create_pending = False
        elif code != "response_cancel_not_active":
            log.warning("realtime_error", call_sid=self.call_sid, code=code,
                        message=str(err.get("message"))[:200])

    # -- tools, handoffs, hang-up ---------------------------------------------------------------

    async def _on_function_call(self, ev: dict[str, Any]) -> None:
        call_id = ev.get("call_id") or ""
        if not call_id or call_id in self._calls_seen or self._tg is None:
            return
        self._calls_seen.add(call_id)
        # Audio keeps flowing while the tool runs: the read loop must not wait for it.
        task = self._tg.create_task(
            self._run_tool(call_id, ev.get("name") or "", ev.get("arguments") or "{}")
        )
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    async def _run_tool(self, call_id: str, name: str, arguments: str) -> None:
        assert self.party is not None
        if name == HANG_UP:
            await self._send(rt.function_call_output(call_id, '{"ok":true}'))
            self._hanging_up = True
            await self._hang_up_after_goodbye()
            return
        target = handoff_target(name)
        if target is not None and target in self.hub.agents:
            output = await self._handoff(target, name, arguments)
        else:
            ctx = ToolContext(services=self.hub.services, member=self.party.member, channel="voice")
            tools = TurnRegistry(self.hub.registry)
            res = await tools.invoke(name, ctx, arguments)
            self.actions.append(action_from(name, arguments, res))
            output = res.to_model_content()
        self._unanswered.add(call_id)
        await self._send(rt.function_call_output(call_id, output))
        await self._request_response()

    async def _handoff(self, target: str, name: str, arguments: str) -> str:
        assert self.party is not None
        self.agent = target
        self.agents_used.append(target)
        self.cfg = self.hub.session_config(self.party, target)
        # The new agent's instructions and tools land before the tool output is answered.
        await self._send(rt.session_update(self.cfg, with_voice=False))
        self.actions.append(Action(tool=name, arguments=_args(arguments), ok=True,
                                   result={"agent": target}))
        return json.dumps({"ok": True, "result": {"now_speaking": target}})

    async def _hang_up_after_goodbye(self) -> None:
        await self._until_quiet(HANG_UP_WAIT_S)
        self.ended_by = "luna"
        self.hub.ended_by_luna.add(self.call_sid)
        try:
            await self.hub.control.hang_up(self.call_sid)
        except LunaError as exc:
            log.warning("hang_up_failed", call_sid=self.call_sid, detail=exc.detail)
            await self._close_twilio()

    # -- recovery -------------------------------------------------------------------------------

    async def _reopen(self, reason: str) -> bool:
        """A fresh Realtime session carrying the conversation so far, or the Gather path."""
        assert self.party is not None
        was_speaking = self._active is not None
        old, self.conn = self.conn, None
        if old is not None:
            await close_quietly(old)
        self._reset_response_state()
        self.reconnects += 1
        log.warning("realtime_reconnect", call_sid=self.call_sid, reason=reason)
        for attempt in range(OPEN_ATTEMPTS):
            if self._ending.is_set():
                return False
            try:
                conn = await asyncio.wait_for(self.hub.open_realtime(), OPEN_TIMEOUT_S)
                await self._configure(conn)
            except Exception as exc:
                log.warning("realtime_reopen_failed", call_sid=self.call_sid, attempt=attempt,
                            error=type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            self.conn = conn
            spoken = self.calllog.spoken()
            if was_speaking or (spoken and spoken[-1].role == "user"):
                await self._request_response()
            return True
        await self._fallback("realtime_lost")
        return False

    async def _configure(self, conn: AsyncRealtimeConnection) -> None:
        assert self.party is not None
        self.cfg = self.hub.session_config(self.party, self.agent)
        await conn.send_raw(rt.dumps(rt.session_update(self.cfg, with_voice=True)))
        if self.briefing:
            await conn.send_raw(rt.dumps(rt.message("system", self.briefing)))
        if self.actions:
            done = "; ".join(f"{a.tool}({json.dumps(a.arguments)}) -> {'ok' if a.ok else a.error}"
                             for a in self.actions[-10:])
            await conn.send_raw(rt.dumps(rt.message(
                "system", f"Earlier in this call you already did: {done}")))
        for turn in self.calllog.spoken()[-HISTORY_TURNS:]:
            await conn.send_raw(rt.dumps(rt.message(turn.role, turn.heard_text())))

    def _reset_response_state(self) -> None:
        self._active = None
        self._create_pending = False
        self._unanswered.clear()
        self._in_conversation.clear()

    async def _rollover(self) -> None:
        """Move to a fresh session before OpenAI's 60-minute cap, in a quiet moment."""
        while not self._ending.is_set():
            await asyncio.sleep(self.settings.realtime_session_max_s)
            await self._until_quiet(120, between_turns=True)
            if self._ending.is_set() or self.conn is None:
                return
            try:
                conn = await asyncio.wait_for(self.hub.open_realtime(), OPEN_TIMEOUT_S)
                await self._configure(conn)
            except Exception as exc:
                log.warning("realtime_rollover_failed", call_sid=self.call_sid,
                            error=type(exc).__name__)
                continue
            old, self.conn = self.conn, conn
            self._reset_response_state()
            self._user_speaking = False
            self.reconnects += 1
            log.info("realtime_rollover", call_sid=self.call_sid)
            if old is not None:
                await close_quietly(old)

    async def _fallback(self, reason: str) -> None:
        """Keep the caller: move the live call to <Gather> + <Say> turns."""
        assert self.party is not None
        self.ended_by = "fallback"
        log.warning("voice_fallback_to_gather", call_sid=self.call_sid, reason=reason)
        p = self.party
        query = {"member": str(p.member.id), "direction": p.direction, "resume": "1"}
        if p.purpose:
            query["purpose"] = p.purpose
        try:
            await self.hub.control.redirect(self.call_sid, webhook_url(self.settings, "gather",
                                                                        **query))
        except LunaError as exc:
            # Without call control, closing the stream makes Twilio follow the TwiML's <Redirect>.
            log.warning("voice_redirect_failed", call_sid=self.call_sid, detail=exc.detail)
            await self._close_twilio()

    # -- the record -----------------------------------------------------------------------------

    def _cut_unheard(self) -> None:
        """The caller hung up while Luna spoke: keep only what reached their ear."""
        point = self.tracker.truncate_point(_ms())
        # Within a frame or two of the end is "heard": the last mark's echo may still be on the
        # wire when the caller hangs up.
        if point is not None and self.tracker.received_ms(point[0], point[1]) - point[2] > 40:
            self.calllog.turn("assistant", point[0]).heard_ms = point[2]

    async def _record(self) -> None:
        if self.party is None:
            return
        p = self.party
        seconds = time.monotonic() - self._t0
        usage = usage_items(self.tally, self.settings.prices, seconds)
        cost = round(sum(u[3] for u in usage), 6)
        meta = {
            "call_sid": self.call_sid, "stream_sid": self.stream_sid, "purpose": p.purpose,
            "handled_by": "realtime", "duration_s": round(seconds, 2),
            "actions": [a.as_dict() for a in self.actions],
            "usage": self.tally.as_dict(), "cost_usd": cost, "agents": self.agents_used,
            "ended_by": self.ended_by, "reconnects": self.reconnects,
            "interruptions": self.interruptions,
        }
        if self.malformed or self.unknown or self.oversized:
            meta["bad_frames"] = {"malformed": self.malformed, "unknown": self.unknown,
                                  "oversized": self.oversized}
        if self.dtmf:
            meta["dtmf"] = "".join(self.dtmf)
        if self.dropped_frames:
            meta["dropped_audio_ms"] = self.dropped_frames * 20
        try:
            row = await self.hub.services.interactions.record(
                p.member.household_id, p.member.id, "voice",
                "outbound" if p.direction == "outbound" else "inbound",
                self.calllog.joined("user") or None, self.calllog.joined("assistant") or None,
                transcript=self.calllog.as_list(), metadata=meta,
                twilio_sid=self.call_sid or None, usage=usage,
            )
            self.interaction_id = row.id
        except Conflict:
            log.info("call_already_recorded", call_sid=self.call_sid)
        except Exception:
            log.exception("call_record_failed", call_sid=self.call_sid)


def _args(arguments: str) -> dict[str, Any]:
    try:
        loaded = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}

