"""Phone calls: Twilio's voice webhooks and the Media Stream WebSocket.

Every webhook is signed (X-Twilio-Signature over the public URL); the stream's upgrade is signed
too (over the wss:// URL, empty params) and checked before anything else happens, because an open
stream spends OpenAI credit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.applications import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from luna.channels.sms.signature import SignedForm
from luna.config import Settings
from luna.services.members import MemberOut
from luna.voice.bridge import RAW_IO, CallSession, VoiceHub
from luna.voice.calls import stream_url, webhook_url
from luna.voice.gather import GatherFlow, say_and_hang_up

router = APIRouter(tags=["voice"])
STREAM_PATH = "/assistant/voice/stream"
UNKNOWN_CALLER = "Sorry, this number isn't set up with Luna yet. Goodbye."


def voice_hub(app: FastAPI) -> VoiceHub:
    """The app's one VoiceHub, made on first use (tests may put their own in app.state)."""
    hub: VoiceHub | None = getattr(app.state, "voice_hub", None)
    if hub is None:
        brain = getattr(app.state, "brain", None)
        hub = VoiceHub(app.state.settings, app.state.services, app.state.registry,
                       converse=brain.converse if brain is not None else None)
        app.state.voice_hub = hub
    return hub


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan owns the hub: pre-warmed sockets and clients close with it."""
    try:
        yield
    finally:
        hub: VoiceHub | None = getattr(app.state, "voice_hub", None)
        if hub is not None:
            app.state.voice_hub = None
            await hub.aclose()


def _twiml(xml: str) -> Response:
    return Response(content=xml, media_type="application/xml")


def stream_twiml(settings: Settings, member: MemberOut, direction: str,
                 purpose: str | None) -> str:
    r = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url(settings))
    stream.parameter(name="member", value=str(member.id))
    stream.parameter(name="direction", value=direction)
    if purpose:
        stream.parameter(name="purpose", value=purpose)
    r.append(connect)
    # Twilio runs this only when Luna closes the stream itself: the caller lands on <Gather>.
    query = {"member": str(member.id), "direction": direction, "resume": "1"}
    if purpose:
        query["purpose"] = purpose
    r.redirect(webhook_url(settings, "gather", **query), method="POST")
    return str(r.to_xml())


@router.post("/assistant/webhooks/voice/incoming")
async def incoming(request: Request, form: SignedForm) -> Response:
    hub = voice_hub(request.app)
    settings = hub.settings
    fields = {k: str(v) for k, v in form.items()}
    q = request.query_params
    call_sid = fields.get("CallSid", "")
    outbound = fields.get("Direction", "").startswith("outbound") and "member" in q
    if outbound:
        member = await hub.member(q.get("member"))
    else:
        member = await hub.services.members.by_phone(fields.get("From", ""))
    if member is None:
        return _twiml(say_and_hang_up(UNKNOWN_CALLER))
    direction = "outbound" if outbound else "inbound"
    purpose = q.get("purpose") or None
    answered_by = fields.get("AnsweredBy", "")
    if outbound and (answered_by.startswith("machine") or answered_by == "fax"):
        await hub.outbound.not_reached(member.id, call_sid, purpose or "checkin", "voicemail")
        r = VoiceResponse()
        r.hangup()
        return _twiml(str(r.to_xml()))
    if not hub.realtime_enabled:
        return _twiml(GatherFlow(settings, hub.converse).start(member, direction, purpose))
    hub.prewarm(call_sid, member, direction, purpose)
    return _twiml(stream_twiml(settings, member, direction, purpose))


@router.post("/assistant/webhooks/voice/gather")
async def gather(request: Request, form: SignedForm) -> Response:
    hub = voice_hub(request.app)
    fields = {k: str(v) for k, v in form.items()}
    q = dict(request.query_params)
    call_sid = fields.get("CallSid", "")
    member = await hub.member(q.get("member"))
    if member is None:
        return _twiml(say_and_hang_up(UNKNOWN_CALLER))
    flow = GatherFlow(hub.settings, hub.converse)
    speech = fields.get("SpeechResult", "")
    if q.get("resume") and not speech:
        if call_sid in hub.ended_by_luna:
            r = VoiceResponse()
            r.hangup()
            return _twiml(str(r.to_xml()))
        return _twiml(flow.start(member, q.get("direction", "inbound"), q.get("purpose"),
                                 resumed=True))
    return _twiml(await flow.turn(member, q, speech, call_sid))


@router.post("/assistant/webhooks/voice/status", status_code=204)
async def status(request: Request, form: SignedForm) -> Response:
    hub = voice_hub(request.app)
    q = request.query_params
    member_id = int(q["member"]) if q.get("member", "").isdigit() else None
    await hub.outbound.on_status({k: str(v) for k, v in form.items()}, member_id,
                                 q.get("purpose") or "checkin")
    return Response(status_code=204)


def upgrade_is_signed(settings: Settings, signature: str) -> bool:
    token = settings.webhook_auth_token()
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(stream_url(settings), {}, signature))


class StreamIO:
    """Answers the media stream itself, ahead of the other middleware and the router, and hands
    it the server's own receive and send.

    Each frame a call sends or receives would otherwise pass through Starlette's state checks
    and two exception-handling wrappers that only watch HTTP responses, 50 frames a second per
    call each way, and each call's upgrade through a hundred routes. The cross-site check does
    not apply: Twilio sends no cookies, and the upgrade is signed. The stream still accepts,
    rejects and closes through a WebSocket object.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope.get("path") == STREAM_PATH:
            scope[RAW_IO] = (receive, send)
            await stream(WebSocket(scope, receive=receive, send=send))
            return
        await self.app(scope, receive, send)


async def stream(websocket: WebSocket) -> None:
    hub = voice_hub(websocket.app)
    if not upgrade_is_signed(hub.settings, websocket.headers.get("x-twilio-signature", "")):
        # Checked before anything is read or opened. Closing before accept() would surface as a
        # bare HTTP 403; accepting only to close with 1008 tells a real client why.
        await websocket.accept()
        await websocket.close(code=1008, reason="invalid signature")
        return
    await websocket.accept()
    await CallSession(hub, websocket).run()
