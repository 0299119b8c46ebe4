"""Browser voice over WebRTC: short-lived Realtime keys, agent handoffs, and the saved call.

The server's OpenAI key never leaves the server: it mints an ephemeral key (`ek_…`) whose
session already carries Luna's persona, the member's context and the tools; the browser uses
that key once to send its SDP offer to `{openai_realtime_base_url}/realtime/calls`.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Annotated, Any, Literal

import openai
import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from luna.brain.agents import LUNA, Agent, agent_realtime_session, build_agents, handoff_target
from luna.brain.persona import member_context
from luna.channels.api.deps import MemberActorDep, ServicesDep, get_settings
from luna.config import Settings
from luna.errors import InvalidInput, NotFound, RateLimited, Unavailable, Upstream
from luna.services.access import Actor
from luna.services.container import Services
from luna.services.interactions import Channel, InteractionOut
from luna.tools.registry import Registry
from luna.voice.transcript import Tally, usage_items

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/realtime", tags=["realtime"])

CHANNEL: Channel = "web_voice"
MINTS_PER_MINUTE = 5
MAX_LINES = 500
MAX_CALL_SECONDS = 4 * 3600


class RateLimiter:
    """At most `limit` events per member in any `window` seconds, in this process's memory."""

    def __init__(self, limit: int = MINTS_PER_MINUTE, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[int, deque[float]] = defaultdict(deque)

    def check(self, key: int, now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and at - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = int(self.window - (at - hits[0])) + 1
            raise RateLimited(f"too many voice sessions; try again in {wait} s")
        hits.append(at)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "realtime_limiter", None)
    if limiter is None:
        limiter = request.app.state.realtime_limiter = RateLimiter()
    return limiter


def realtime_session(settings: Settings, fragment: dict[str, Any]) -> dict[str, Any]:
    """The GA `session` of a browser call; WebRTC negotiates the audio format itself."""
    return {
        "type": "realtime",
        "model": settings.realtime_model,
        "output_modalities": ["audio"],
        **fragment,
        "tool_choice": "auto",
        "audio": {
            "input": {
                "transcription": {"model": settings.realtime_transcription_model},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": {"type": "server_vad", "create_response": True,
                                   "interrupt_response": True},
            },
            "output": {"voice": settings.realtime_voice},
        },
    }


async def _fragment(
    svc: Services, registry: Registry, actor: Actor, agent: Agent, agents: dict[str, Agent]
) -> dict[str, Any]:
    assert actor.member_id is not None
    member = await svc.members.get(actor, actor.member_id)
    context = member_context(
        member,
        await svc.interactions.recent_summary(member.id, tz=member.timezone),
        await svc.checkins.today(actor, member.id),
        now=svc.clock.now(),
    )
    return agent_realtime_session(agent, registry, channel=CHANNEL, context=context, agents=agents)


class SecretOut(BaseModel):
    value: str
    expires_at: int
    calls_url: str
    model: str


@router.post("/client_secrets")
async def client_secret(
    request: Request, actor: MemberActorDep, svc: ServicesDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> SecretOut:
    if settings.openai_api_key is None:
        raise Unavailable("voice calls need an OpenAI key on the server (OPENAI_API_KEY)")
    assert actor.member_id is not None
    _limiter(request).check(actor.member_id)
    registry: Registry = request.app.state.registry
    agents = build_agents(registry)
    session = realtime_session(
        settings, await _fragment(svc, registry, actor, agents[LUNA], agents)
    )
    base = settings.openai_realtime_base_url.rstrip("/")
    client = openai.AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(), base_url=base,
        timeout=settings.llm_timeout_s, max_retries=1,
    )
    try:
        secret = await client.realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": settings.realtime_secret_ttl_s},
            session=session,  # type: ignore[arg-type]  # a plain dict of the GA shape
        )
    except openai.APIError as exc:
        # The SDK's message never contains the key; the status is what the member can act on.
        log.warning("realtime_mint_failed", error=type(exc).__name__)
        raise Upstream("the voice service did not answer; try again in a moment") from exc
    finally:
        await client.close()
    return SecretOut(value=secret.value, expires_at=secret.expires_at,
                     calls_url=f"{base}/realtime/calls", model=settings.realtime_model)


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str = Field(max_length=100)


@router.post("/handoff")
async def handoff(
    body: HandoffIn, request: Request, actor: MemberActorDep, svc: ServicesDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> dict[str, Any]:
    """The `session.update` the browser sends when the model calls a transfer tool."""
    registry: Registry = request.app.state.registry
    agents = build_agents(registry)
    target = handoff_target(body.tool)
    if target is None or target not in agents:
        raise NotFound(f"no agent behind {body.tool!r}")
    fragment = await _fragment(svc, registry, actor, agents[target], agents)
    return {"type": "session.update", "session": {"type": "realtime", **fragment},
            "agent": target}


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    text: str = Field(max_length=8000)


class ToolCallLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    ok: bool
    call_id: str | None = Field(default=None, max_length=100)


Count = Annotated[int, Field(ge=0, le=100_000_000)]


class CachedDetails(BaseModel):
    text_tokens: Count = 0
    audio_tokens: Count = 0
    image_tokens: Count = 0


class InputDetails(BaseModel):
    text_tokens: Count = 0
    audio_tokens: Count = 0
    image_tokens: Count = 0
    cached_tokens: Count = 0
    cached_tokens_details: CachedDetails | None = None


class OutputDetails(BaseModel):
    text_tokens: Count = 0
    audio_tokens: Count = 0


class ResponseUsage(BaseModel):
    """`response.done` → `response.usage`, as the Realtime API reports it."""

    total_tokens: Count = 0
    input_tokens: Count = 0
    output_tokens: Count = 0
    input_token_details: InputDetails | None = None
    output_token_details: OutputDetails | None = None


class TranscriptionUsage(BaseModel):
    type: Literal["tokens", "duration"] = "tokens"
    input_tokens: Count = 0
    output_tokens: Count = 0
    total_tokens: Count = 0
    seconds: float = Field(default=0, ge=0, le=MAX_CALL_SECONDS)


class CallUsage(BaseModel):
    responses: list[ResponseUsage] = Field(default_factory=list, max_length=2000)
    transcriptions: list[TranscriptionUsage] = Field(default_factory=list, max_length=2000)


class TranscriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transcript: list[Line] = Field(default_factory=list, max_length=MAX_LINES)
    usage: CallUsage = Field(default_factory=CallUsage)
    tool_calls: list[ToolCallLine] = Field(default_factory=list, max_length=200)
    duration_s: float = Field(default=0, ge=0, le=MAX_CALL_SECONDS)
    agent: str | None = Field(default=None, max_length=100)


@router.post("/transcript", status_code=201)
async def save_transcript(
    body: TranscriptIn, actor: MemberActorDep, svc: ServicesDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> InteractionOut:
    """The browser's record of a finished call, saved as a web_voice interaction."""
    assert actor.household_id is not None
    lines = [line for line in body.transcript if line.text.strip()]
    if not lines and not body.tool_calls:
        raise InvalidInput("the call has no transcript to save")
    tally = Tally()
    for r in body.usage.responses:
        tally.add_response(r.model_dump())
    for t in body.usage.transcriptions:
        tally.add_transcription(t.model_dump())
    # A browser call rides on WebRTC, not on a phone line: no call minutes to bill.
    items = usage_items(tally, settings.prices, 0.0)
    return await svc.interactions.record(
        actor.household_id, actor.member_id, CHANNEL, "inbound",
        user_message="\n".join(x.text for x in lines if x.role == "user") or None,
        assistant_response="\n".join(x.text for x in lines if x.role == "assistant") or None,
        transcript=[x.model_dump() for x in lines],
        metadata={
            "source": "browser", "model": settings.realtime_model,
            "duration_s": round(body.duration_s, 1), "agent": body.agent,
            "actions": [c.model_dump() | {"tool": c.name} for c in body.tool_calls],
            "usage": tally.as_dict(),
        },
        usage=items,
    )
