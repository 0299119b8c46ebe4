"""Call control over Twilio's REST API: place a call into the stream, move a live call to other
TwiML, hang up; and what happens to outbound calls nobody answers.

Hanging up lives here, never in the codec or the socket loop: closing the Media Stream would
make Twilio go on with the next TwiML verb instead of ending the call.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import structlog

from luna.config import Settings
from luna.errors import InvalidInput, LunaError, Upstream
from luna.outbound.sms import OutboundSms, build_sms_sender
from luna.services.access import ADMIN
from luna.services.container import Services
from luna.services.members import MemberOut

log = structlog.get_logger(__name__)

VOICE_PREFIX = "/assistant/webhooks/voice"
NOT_ANSWERED = frozenset({"no-answer", "busy", "failed", "canceled"})
PURPOSES: dict[str, str] = {
    "checkin": "a quick check-in",
    "evening_reflection": "your evening reflection",
    "morning_briefing": "your morning briefing",
    "reminder": "a reminder",
}


def webhook_url(settings: Settings, name: str, **query: str) -> str:
    url = f"{settings.public_url.rstrip('/')}{VOICE_PREFIX}/{name}"
    return f"{url}?{urlencode(query)}" if query else url


def stream_url(settings: Settings) -> str:
    """The wss:// URL Twilio connects to, and signs (not the https:// one)."""
    base = settings.public_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return f"{base}/assistant/voice/stream"


class CallControl:
    """The three REST calls Luna makes about calls. A 404 on a hang-up means already ended."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http
        self.requests: list[tuple[str, dict[str, str]]] = []
        """What was asked of Twilio, for logs and tests."""

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _calls_url(self, call_sid: str | None = None) -> str:
        sid = self.settings.twilio_account_sid
        if not sid:
            raise Upstream("Twilio is not configured (LUNA_TWILIO_ACCOUNT_SID)")
        base = f"{self.settings.twilio_api_base.rstrip('/')}/2010-04-01/Accounts/{sid}/Calls"
        return f"{base}/{call_sid}.json" if call_sid else f"{base}.json"

    async def _post(self, url: str, form: dict[str, str]) -> httpx.Response:
        token = self.settings.twilio_auth_token
        sid = self.settings.twilio_account_sid or ""
        auth = (sid, token.get_secret_value() if token else "")
        self.requests.append((url, form))
        try:
            return await self._client().post(url, data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise Upstream(f"Twilio unreachable: {type(exc).__name__}") from exc

    async def place_call(self, to: str, twiml_url: str, status_callback: str) -> str:
        if not self.settings.twilio_from_number:
            raise Upstream("Twilio is not configured (LUNA_TWILIO_FROM_NUMBER)")
        r = await self._post(self._calls_url(), {
            "To": to, "From": self.settings.twilio_from_number, "Url": twiml_url,
            "Method": "POST", "StatusCallback": status_callback, "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": "initiated ringing answered completed",
            # Lets the incoming webhook tell a person from voicemail (AnsweredBy).
            "MachineDetection": "Enable",
        })
        if r.status_code >= 300:
            raise Upstream(f"Twilio refused the call: {r.status_code} {r.text[:200]}")
        sid: str = r.json()["sid"]
        return sid

    async def redirect(self, call_sid: str, twiml_url: str) -> None:
        """Point a live call at new TwiML; Twilio ends its Media Stream and fetches the URL."""
        r = await self._post(self._calls_url(call_sid), {"Url": twiml_url, "Method": "POST"})
        if r.status_code >= 300:
            raise Upstream(f"Twilio refused the call update: {r.status_code}")

    async def hang_up(self, call_sid: str) -> None:
        r = await self._post(self._calls_url(call_sid), {"Status": "completed"})
        if r.status_code == 404:
            return
        if r.status_code >= 300:
            raise Upstream(f"Twilio refused the hang-up: {r.status_code}")


class OutboundCalls:
    """`luna call MEMBER --purpose ...` and the scheduler; status callbacks and SMS fallback."""

    def __init__(self, settings: Settings, services: Services, control: CallControl) -> None:
        self.settings = settings
        self.services = services
        self.control = control

    async def aclose(self) -> None:
        await self.control.aclose()

    async def call_member(self, member_id: int, purpose: str = "checkin") -> str:
        if purpose not in PURPOSES:
            raise InvalidInput(f"unknown purpose {purpose!r}; one of {', '.join(PURPOSES)}")
        member = await self.services.members.get(ADMIN, member_id)
        if not member.phone:
            raise InvalidInput(f"{member.name} has no phone number")
        query = {"member": str(member.id), "purpose": purpose}
        sid = await self.control.place_call(
            member.phone,
            webhook_url(self.settings, "incoming", **query),
            webhook_url(self.settings, "status", **query),
        )
        log.info("call_placed", member_id=member.id, purpose=purpose, call_sid=sid)
        return sid

    async def on_status(self, form: dict[str, str], member_id: int | None, purpose: str) -> None:
        """Record a status callback; an unanswered outbound call becomes a text instead."""
        status = form.get("CallStatus", "")
        call_sid = form.get("CallSid", "")
        log.info("call_status", call_sid=call_sid, status=status, duration=form.get("CallDuration"))
        if status in NOT_ANSWERED and member_id is not None:
            await self.not_reached(member_id, call_sid, purpose, status)

    async def not_reached(self, member_id: int, call_sid: str, purpose: str, why: str) -> None:
        """No answer, busy, failed or voicemail: one Interaction and a text in its place."""
        try:
            member = await self.services.members.get(ADMIN, member_id)
        except LunaError:
            return
        body = fallback_text(member, purpose)
        # Recorded first: the call SID is unique, so a retried callback stops here, not at a
        # second text.
        try:
            await self.services.interactions.record(
                member.household_id, member.id, "voice", "outbound", None, body,
                metadata={"call_sid": call_sid, "status": why, "purpose": purpose,
                          "fallback": "sms"},
                twilio_sid=call_sid or None,
            )
        except LunaError:
            log.info("call_status_repeat", call_sid=call_sid, status=why)
            return
        if not await send_sms(self.settings, self.services, member, body):
            log.warning("call_fallback_not_sent", call_sid=call_sid)


def fallback_text(member: MemberOut, purpose: str) -> str:
    what = PURPOSES.get(purpose, "a chat")
    return (f"Hi {member.name}, it's Luna. I tried to call you for {what}. "
            "Text me back whenever suits you.")


async def send_sms(settings: Settings, services: Services, member: MemberOut, body: str) -> bool:
    """Through luna.outbound.sms (Twilio, or the outbox without it); False when nothing went."""
    sms = OutboundSms(services, build_sms_sender(settings, services), settings)
    try:
        delivery = await sms.send_to_member(member.id, body, "call_fallback")
    except Exception:
        log.exception("sms_fallback_failed", member_id=member.id)
        return False
    finally:
        await sms.aclose()
    return delivery.status in ("sent", "outbox")
