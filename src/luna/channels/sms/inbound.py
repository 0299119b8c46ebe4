"""One inbound SMS, handled exactly once: claimed, answered inline when quick, else later.

Twilio waits 15 s for the webhook and retries one that times out. So the text's MessageSid
is claimed before anything else, and the reply goes inline as TwiML only when `converse()`
answers within the budget; otherwise the webhook returns at once and the reply follows
through the outbound port when it is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog

from luna.background import TaskSupervisor
from luna.brain.types import ConversationInput, ConversationResult
from luna.channels.sms import keywords
from luna.channels.sms.keywords import Keyword
from luna.channels.sms_text import fit_reply, segment_count
from luna.config import Settings
from luna.domain.phones import mask_phone
from luna.errors import InvalidInput, LunaError, Unavailable
from luna.outbound.sms import OutboundSms
from luna.services.access import ADMIN, Actor
from luna.services.container import Services
from luna.services.interactions import AlsoFile, UsageItem
from luna.services.members import MemberOut
from luna.services.sms_inbox import InboundClaim, InboundStatus, ReplyVia, SmsInbox

log = structlog.get_logger(__name__)


class Converser(Protocol):
    async def converse(self, inp: ConversationInput) -> ConversationResult: ...


@dataclass(frozen=True, slots=True)
class InboundSms:
    """The fields of Twilio's webhook that Luna uses."""

    sid: str
    from_phone: str
    to_phone: str
    body: str
    segments: int

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> InboundSms:
        sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
        sender = (form.get("From") or "").strip()
        if not sid or not sender:
            raise InvalidInput("an SMS webhook needs MessageSid and From")
        body = form.get("Body") or ""
        try:
            segments = int(form.get("NumSegments") or 0)
        except ValueError:
            segments = 0
        return cls(sid, sender, (form.get("To") or "").strip(), body,
                   segments or max(1, segment_count(body)))


class _Turn:
    """Who delivers the reply: the waiting webhook (inline) or, once it gave up, the port."""

    def __init__(self) -> None:
        self.inline: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.decided = False
        self.late = False


class SmsChannel:
    def __init__(
        self, settings: Settings, services: Services, outbound: OutboundSms,
        tasks: TaskSupervisor,
    ) -> None:
        self.settings = settings
        self.services = services
        self.outbound = outbound
        self.tasks = tasks
        self.inbox = SmsInbox(services.db, services.clock, settings.default_region)

    async def receive(self, brain: Converser, sms: InboundSms) -> str | None:
        """The inline reply for Twilio, or None (empty TwiML) when there is none to give now."""
        claim, member = await self.inbox.claim(sms.sid, sms.from_phone, sms.body)
        if not claim.fresh:
            return _repeat(sms, claim)
        if member is None:
            log.info("sms_unknown_sender", sid=sms.sid, sender=mask_phone(sms.from_phone),
                     to=mask_phone(sms.to_phone))
            await self.inbox.finish(sms.sid, "replied", keywords.UNKNOWN_SENDER, "twiml")
            return keywords.UNKNOWN_SENDER
        word = keywords.keyword(sms.body)
        if word is not None:
            return await self._keyword(word, member, sms)
        if member.sms_opt_out:
            return await self._fixed(member, sms, keywords.STILL_OPTED_OUT, "opted_out")
        return await self._converse(brain, member, sms)

    async def _keyword(self, word: Keyword, member: MemberOut, sms: InboundSms) -> str:
        actor = Actor(member.household_id, member.id, "child" if member.role == "child"
                      else "adult")
        if word == "opt_out":
            await self.services.members.update(actor, member.id, {"sms_opt_out": True})
            text = keywords.OPTED_OUT
        elif word == "opt_in":
            await self.services.members.update(actor, member.id, {"sms_opt_out": False})
            text = keywords.opted_in_text(member.name)
        else:
            text = keywords.HELP
        log.info("sms_keyword", sid=sms.sid, keyword=word, member_id=member.id)
        return await self._fixed(member, sms, text, "keyword", keyword=word)

    async def _fixed(
        self, member: MemberOut, sms: InboundSms, text: str, handled_by: str,
        keyword: str | None = None,
    ) -> str:
        """A reply Luna knows without thinking, recorded like any other turn."""
        meta = {"handled_by": handled_by, "keyword": keyword}
        await self.services.interactions.record(
            member.household_id, member.id, "sms", "inbound", sms.body, text, metadata=meta,
            twilio_sid=sms.sid, usage=self._usage(sms, text),
        )
        await self.inbox.finish(sms.sid, "replied", text, "twiml")
        return text

    async def _converse(self, brain: Converser, member: MemberOut, sms: InboundSms) -> str | None:
        turn = _Turn()
        self.tasks.spawn(self._run(brain, member, sms, turn), name=f"sms-turn-{sms.sid}")
        try:
            return await asyncio.wait_for(
                asyncio.shield(turn.inline), self.settings.sms_reply_budget_s
            )
        except TimeoutError:
            if turn.decided:
                return await turn.inline
            turn.late = True
            log.info("sms_slow_reply", sid=sms.sid, budget_s=self.settings.sms_reply_budget_s)
            return None
        except asyncio.CancelledError:
            # Nobody will read an inline reply any more; let the port deliver it.
            turn.late = not turn.decided
            raise

    async def _run(
        self, brain: Converser, member: MemberOut, sms: InboundSms, turn: _Turn
    ) -> None:
        status: InboundStatus = "replied"
        interaction_id: int | None = None
        filed = False

        def also_file(result: ConversationResult) -> AlsoFile | None:
            # Still in time for the webhook: the inbound row is finished in the transaction
            # that files the turn, so an inline reply costs one commit, not two.
            nonlocal filed
            if turn.late:
                return None
            turn.decided = filed = True
            reply = fit_reply(result.reply)
            return self.inbox.finish_with_turn(
                sms.sid, reply, household_id=member.household_id, member_id=member.id,
                usage=self._usage(sms, reply),
            )

        try:
            result = await brain.converse(ConversationInput(
                member=member, channel="sms", text=sms.body, external_id=sms.sid,
                also_file=also_file,
            ))
            reply, interaction_id = fit_reply(result.reply), result.interaction_id
            # The Interaction was not filed (refused or failed): neither was the inbound row.
            filed = filed and interaction_id is not None
        except Exception as exc:
            if isinstance(exc, Unavailable):  # overloaded: `Database` logged it once already
                log.warning("sms_turn_unavailable", sid=sms.sid, member_id=member.id)
            else:
                log.exception("sms_turn_failed", sid=sms.sid, member_id=member.id)
            status, reply, filed = "failed", keywords.TROUBLE, False
            interaction_id = await self._record_failure(member, sms, reply)
        if not turn.late:
            turn.decided = True
            try:
                if not filed:
                    await self._finish(member, sms, status, reply, "twiml", interaction_id)
            finally:
                turn.inline.set_result(reply)
            return
        if (await self.services.members.get(ADMIN, member.id)).sms_opt_out:
            # They texted STOP while this turn was thinking: the late reply stays unsent.
            log.info("sms_reply_suppressed", sid=sms.sid, member_id=member.id)
            await self._finish(member, sms, status, reply, None, interaction_id, sent=False)
            return
        try:
            await self.outbound.deliver(member, reply)
        except Exception:
            log.exception("sms_reply_not_sent", sid=sms.sid, member_id=member.id)
            await self._finish(member, sms, "failed", reply, None, interaction_id, sent=False)
            return
        await self._finish(member, sms, status, reply, "rest", interaction_id)

    async def _record_failure(self, member: MemberOut, sms: InboundSms, reply: str) -> int | None:
        """The turn broke before converse() could record it; the text still gets its row."""
        try:
            row = await self.services.interactions.record(
                member.household_id, member.id, "sms", "inbound", sms.body, reply,
                metadata={"handled_by": "error"}, twilio_sid=sms.sid,
            )
        except LunaError as exc:
            log.warning("sms_failure_not_recorded", sid=sms.sid, detail=exc.detail)
            return None
        return row.id

    async def _finish(
        self, member: MemberOut, sms: InboundSms, status: InboundStatus, reply: str,
        via: ReplyVia | None, interaction_id: int | None, *, sent: bool = True,
    ) -> None:
        await self.inbox.finish(
            sms.sid, status, reply, via, interaction_id=interaction_id,
            household_id=member.household_id, member_id=member.id,
            usage=self._usage(sms, reply if sent else ""),
        )

    def _usage(self, sms: InboundSms, reply: str) -> list[UsageItem]:
        items = [self.outbound.usage("sms_inbound", sms.segments)]
        if reply:
            items.append(self.outbound.usage("sms_outbound", segment_count(reply)))
        return items


def _repeat(sms: InboundSms, claim: InboundClaim) -> str | None:
    """A retry or a concurrent duplicate: the stored inline reply, never a second turn."""
    log.info("sms_duplicate", sid=sms.sid, status=claim.status, reply_via=claim.reply_via)
    if claim.status != "received" and claim.reply_via == "twiml":
        return claim.reply
    return None
