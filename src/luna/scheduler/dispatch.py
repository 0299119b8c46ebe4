"""Handing claimed nudges to the SMS and call ports, and recording what became of each.

The key was claimed before any of this runs, so a crash here loses a nudge rather than sending
it twice; a nudge left "pending" was claimed and never confirmed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from luna.errors import LunaError
from luna.scheduler.content import LLM_USAGE_KIND, Content, Outreach
from luna.scheduler.due import RETRY
from luna.scheduler.store import Claimed, Outcome, ScheduleStore
from luna.services.access import ADMIN
from luna.services.container import Services

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 3

DELIVERED = {"sent": "sent", "outbox": "sent", "suppressed": "suppressed", "no_phone": "failed"}
"""OutboundSms delivery states → nudge status (the outbox counts as sent: it is the provider
when none is configured)."""


class SmsPort(Protocol):
    async def send_to_member(self, member_id: int, body: str, kind: str) -> Any:
        """Send a proactive SMS; the result has a `.status` (sent|outbox|suppressed|no_phone)."""
        ...


class CallPort(Protocol):
    async def call_member(self, member_id: int, purpose: str = "checkin") -> str:
        """Place a call for `purpose`; the call's SID. Unanswered calls fall back to SMS."""
        ...


class Dispatcher:
    def __init__(
        self,
        services: Services,
        store: ScheduleStore,
        content: Content,
        sms: SmsPort,
        calls: CallPort | None,
        *,
        concurrency: int = 8,
    ) -> None:
        self.services = services
        self.store = store
        self.content = content
        self.sms = sms
        self.calls = calls
        self.concurrency = concurrency
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def gate(self) -> asyncio.Semaphore:
        """One gate for the whole process, not one per batch: a worker running several jobs
        at once still has at most `concurrency` sends (and their database connections) in
        flight. (A semaphore belongs to one event loop; tests run several in turn.)"""
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:
            self._gate = (loop, asyncio.Semaphore(self.concurrency))
        return self._gate[1]

    async def send_all(self, claimed: Sequence[Claimed]) -> Counter[str]:
        """Send a batch; what became of each is recorded once the batch is through (a crash
        before that leaves them "pending": claimed, so never sent again either way)."""
        gate = self.gate()

        async def one(c: Claimed) -> Outcome:
            async with gate:
                return await self.send(c)

        outcomes = await asyncio.gather(*(one(c) for c in claimed))
        await self.store.finish(outcomes)
        again = sorted({c.member_id for c, o in zip(claimed, outcomes, strict=True)
                        if o.status == RETRY})
        if again:
            await self.store.mark_stale(again)
        return Counter(o.status for o in outcomes)

    async def send(self, c: Claimed) -> Outcome:
        """Render and send one nudge; what became of it."""
        handed = False
        try:
            member = await self.services.members.get(ADMIN, c.member_id)
            out = await self.content.render(c, member)
            if isinstance(out, str):
                return await self._finish(c, "skipped", {"reason": out})
            if member.sms_opt_out:
                return await self._finish(c, "suppressed", {"reason": "sms opt-out"})
            handed = True
            if c.channel == "call" and out.purpose:
                placed = await self._call(c, out)
                if placed is not None:
                    return placed
            delivery = await self.sms.send_to_member(out.to_member_id, out.text, c.kind)
            status = DELIVERED.get(str(delivery.status), "failed")
            detail: dict[str, Any] = {"delivery": str(delivery.status),
                                      "written_by": out.written_by,
                                      "interaction_id": getattr(delivery, "interaction_id", None)}
            if out.to_member_id != c.member_id:
                detail["to_member_id"] = out.to_member_id
            if c.channel == "call":
                detail["fallback"] = "sms"
            if out.cost_usd:
                await self.store.record_usage(
                    c.household_id, c.member_id, LLM_USAGE_KIND, 1, "briefings", out.cost_usd,
                    self.services.clock.now(),
                )
            return await self._finish(c, status, detail)
        except Exception as exc:
            # One member's broken data must not stop everyone else's nudges. Nothing reached a
            # provider yet (a database hiccup while writing it): it may be tried again.
            log.exception("nudge_send_failed", key=c.key, handed=handed)
            attempts = int(c.detail.get("attempts", 0)) + 1
            status = RETRY if not handed and attempts < MAX_ATTEMPTS else "failed"
            return await self._finish(c, status, {"error": type(exc).__name__,
                                                  "attempts": attempts})

    async def _call(self, c: Claimed, out: Outreach) -> Outcome | None:
        """The call's status, or None when it could not be placed and a text goes instead."""
        if self.calls is None:
            return None
        assert out.purpose is not None
        try:
            sid = await self.calls.call_member(out.to_member_id, out.purpose)
        except LunaError as exc:
            log.warning("nudge_call_failed", key=c.key, error=exc.code)
            return None
        return await self._finish(c, "sent", {"call_sid": sid, "purpose": out.purpose})

    async def _finish(self, c: Claimed, status: str, detail: dict[str, Any]) -> Outcome:
        log.info("nudge", key=c.key, status=status, channel=c.channel)
        return Outcome(c.id, status, self.services.clock.now(), {**c.detail, **detail})
