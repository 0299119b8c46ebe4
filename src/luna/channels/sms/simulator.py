"""A phone for development: post a text to a running Luna exactly as Twilio would, signed.

Used by `luna sms`, the benchmark and tests; it signs with the same auth token the server
checks (the dev token when no Twilio token is configured).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import httpx

from luna.channels.sms.signature import public_url, sign
from luna.channels.sms.webhook import INCOMING_PATH
from luna.channels.sms_text import segment_count
from luna.config import Settings
from luna.errors import InvalidInput

PLACEHOLDER_NUMBER = "+15550000000"


@dataclass(frozen=True, slots=True)
class SimulatedReply:
    status_code: int
    reply: str | None
    """The inline <Message>, or None when Luna answered empty TwiML (the reply follows)."""
    body: str


def new_message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def twilio_form(settings: Settings, sender: str, body: str, sid: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming SMS."""
    return {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid,
        "AccountSid": settings.twilio_account_sid or "AC" + "0" * 32,
        "From": sender, "To": settings.twilio_from_number or PLACEHOLDER_NUMBER,
        "Body": body, "NumMedia": "0", "NumSegments": str(max(1, segment_count(body))),
        "SmsStatus": "received", "ApiVersion": "2010-04-01",
    }


def signed_request(
    settings: Settings, sender: str, body: str, sid: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of a correctly signed incoming-SMS webhook."""
    token = settings.webhook_auth_token()
    if token is None:
        raise InvalidInput("set LUNA_TWILIO_AUTH_TOKEN to sign webhooks in prod")
    form = twilio_form(settings, sender, body, sid or new_message_sid())
    url = public_url(settings, INCOMING_PATH)
    return form, {"X-Twilio-Signature": sign(token, url, form)}


def reply_of(twiml: str) -> str | None:
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return None
    messages = [m.text or "" for m in root.iter("Message")]
    return "\n".join(messages) if messages else None


async def send_text(
    settings: Settings, base_url: str, sender: str, body: str, *,
    sid: str | None = None, client: httpx.AsyncClient | None = None,
) -> SimulatedReply:
    form, headers = signed_request(settings, sender, body, sid)
    url = base_url.rstrip("/") + INCOMING_PATH
    if client is None:
        async with httpx.AsyncClient(timeout=20.0) as own:
            r = await own.post(url, data=form, headers=headers)
    else:
        r = await client.post(url, data=form, headers=headers)
    return SimulatedReply(r.status_code, reply_of(r.text) if r.is_success else None, r.text)
