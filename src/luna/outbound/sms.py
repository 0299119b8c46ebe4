"""Sending SMS: one port, two adapters (Twilio's REST API, the local outbox), one way in.

Every SMS Luna sends passes through `OutboundSms`, which stores it, bills it as an outbound
Interaction and, for proactive messages, refuses members who texted STOP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
import structlog

from luna.channels.sms_text import cap, segment_count
from luna.config import Env, Settings
from luna.domain.phones import mask_phone
from luna.errors import InvalidInput, NotFound, Upstream
from luna.services.access import ADMIN
from luna.services.container import Services
from luna.services.interactions import UsageItem
from luna.services.members import MemberOut
from luna.services.sms_inbox import SmsInbox

log = structlog.get_logger(__name__)

STATUS_PATH = "/assistant/webhooks/sms/status"
TWILIO_TIMEOUT_S = 10.0

DeliveryState = Literal["sent", "outbox", "suppressed", "no_phone"]


@dataclass(frozen=True, slots=True)
class SentSms:
    """What the provider said: its id for the message and where the message is now."""

    sid: str
    status: str
    message_id: int | None = None
    """The outbox row, when the sender stored the message itself."""


class SmsSender(Protocol):
    async def send(self, to: str, body: str, *, status_callback: str | None) -> SentSms: ...


class TwilioSmsSender:
    """Twilio's Messages API over httpx (basic auth with the account sid and auth token)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        api_base: str = "https://api.twilio.com",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._client = client or httpx.AsyncClient(timeout=TWILIO_TIMEOUT_S)
        self._owns_client = client is None

    async def send(self, to: str, body: str, *, status_callback: str | None) -> SentSms:
        form = {"To": to, "From": self.from_number, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        try:
            r = await self._client.post(self.url, data=form, auth=self._auth)
        except httpx.HTTPError as exc:
            raise Upstream(f"Twilio could not be reached: {type(exc).__name__}") from exc
        try:
            data = r.json()
        except ValueError:
            data = {}
        if r.status_code >= 400 or not isinstance(data, dict) or "sid" not in data:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message") if isinstance(data, dict) else None
            raise Upstream(f"Twilio refused the SMS (HTTP {r.status_code}, code {code}): "
                           f"{message or r.text[:200]}")
        return SentSms(sid=str(data["sid"]), status=str(data.get("status") or "queued"))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class OutboxSmsSender:
    """No provider: the message waits in the outbox (/api/messages, the dashboard, dev logs)."""

    def __init__(self, services: Services, *, echo: bool = False) -> None:
        self.services = services
        self.echo = echo

    async def send(self, to: str, body: str, *, status_callback: str | None) -> SentSms:
        member = await self.services.members.by_phone(to)
        if member is None:
            # An outbox row belongs to a household; Luna texts only the numbers it knows.
            raise NotFound(f"no member has the number {mask_phone(to)}")
        row = await self.services.messages.queue_sms(member.household_id, member.id, to, body)
        if self.echo:
            log.info("sms_outbox", to=mask_phone(row.to_phone), status=row.status, body=body)
        return SentSms(sid=f"outbox-{row.id}", status=row.status, message_id=row.id)

    async def aclose(self) -> None:
        return None


def build_sms_sender(settings: Settings, services: Services) -> SmsSender:
    """Twilio when an account, its auth token and a from-number are set; else the outbox."""
    if settings.twilio_configured:
        assert settings.twilio_account_sid and settings.twilio_auth_token
        assert settings.twilio_from_number
        return TwilioSmsSender(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number, api_base=settings.twilio_api_base,
        )
    return OutboxSmsSender(services, echo=settings.env is Env.DEV)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one outbound SMS."""

    status: DeliveryState
    sid: str | None = None
    provider_status: str | None = None
    segments: int = 0
    interaction_id: int | None = None


class OutboundSms:
    """The single way SMS leave Luna."""

    def __init__(self, services: Services, sender: SmsSender, settings: Settings) -> None:
        self.services = services
        self.sender = sender
        self.settings = settings
        self.inbox = SmsInbox(services.db, services.clock)
        self.twilio = isinstance(sender, TwilioSmsSender)

    @property
    def status_callback(self) -> str | None:
        if not self.twilio:
            return None
        return self.settings.public_url.rstrip("/") + STATUS_PATH

    async def send_to_member(self, member_id: int, body: str, kind: str) -> Delivery:
        """A proactive SMS (a reminder, a check-in): never to a member who opted out.

        It is recorded as an outbound Interaction with its segments and their cost.
        """
        member = await self.services.members.get(ADMIN, member_id)
        if member.sms_opt_out:
            log.info("sms_suppressed", member_id=member.id, kind=kind)
            return Delivery("suppressed")
        if not member.phone:
            return Delivery("no_phone")
        text = cap(body)
        if not text:
            raise InvalidInput("an SMS needs some text")
        sent, segments = await self.deliver(member, text)
        recorded = await self.services.interactions.record(
            member.household_id, member.id, "sms", "outbound", None, text,
            metadata={"kind": kind, "sid": sent.sid, "segments": segments,
                      "provider_status": sent.status},
            twilio_sid=sent.sid if self.twilio else None,
            usage=[self.usage("sms_outbound", segments)],
        )
        state: DeliveryState = "outbox" if sent.message_id is not None else "sent"
        return Delivery(state, sent.sid, sent.status, segments, recorded.id)

    async def deliver(self, member: MemberOut, text: str) -> tuple[SentSms, int]:
        """Hand one text for the member to the sender and store it; the caller bills it."""
        if not member.phone:
            raise InvalidInput(f"{member.name} has no phone number")
        sent = await self.sender.send(member.phone, text, status_callback=self.status_callback)
        if sent.message_id is None:
            await self.inbox.record_sent(
                member.household_id, member.id, member.phone, text, sent.sid, sent.status
            )
        log.info("sms_sent", to=mask_phone(member.phone), sid=sent.sid, status=sent.status)
        return sent, segment_count(text)

    def usage(self, kind: str, segments: int) -> UsageItem:
        return (kind, float(segments), "segments", segments * self.settings.prices.sms_segment)

    async def aclose(self) -> None:
        close = getattr(self.sender, "aclose", None)
        if close is not None:
            await close()
