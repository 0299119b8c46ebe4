"""Twilio's SMS webhooks: an incoming text, and delivery status of the texts Luna sent.

The paths are those of the system Luna replaces, so a Twilio number keeps working.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response
from twilio.twiml.messaging_response import MessagingResponse

from luna.channels.sms.inbound import InboundSms, SmsChannel
from luna.channels.sms.signature import SignedForm

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/assistant/webhooks/sms", tags=["sms"])

TWIML = "application/xml"


def twiml(reply: str | None) -> Response:
    r = MessagingResponse()
    if reply:
        r.message(reply)
    return Response(str(r), media_type=TWIML)


def sms_channel(request: Request) -> SmsChannel:
    channel: SmsChannel | None = getattr(request.app.state, "sms", None)
    if channel is None:
        raise RuntimeError("the SMS channel is started by the app's lifespan")
    return channel


@router.post("/incoming", response_class=Response)
async def incoming(request: Request, form: SignedForm) -> Response:
    """A member's text: the reply inline as TwiML, or empty TwiML when it follows later."""
    sms = InboundSms.from_form({k: str(v) for k, v in form.items()})
    reply = await sms_channel(request).receive(request.app.state.brain, sms)
    return twiml(reply)


@router.post("/status", status_code=204, response_class=Response)
async def status(request: Request, form: SignedForm) -> Response:
    """Twilio's delivery report for a text Luna sent."""
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    state = str(form.get("MessageStatus") or form.get("SmsStatus") or "")
    changed = bool(sid and state) and await sms_channel(request).inbox.update_delivery(sid, state)
    log.info("sms_status", sid=sid, status=state, error_code=form.get("ErrorCode"),
             applied=changed)
    return Response(status_code=204)
