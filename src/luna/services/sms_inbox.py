"""The SMS ledger: inbound texts claimed exactly once, and what Luna sent and how it fared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import InboundMessage, Message
from luna.domain.phones import normalize_phone
from luna.errors import NotFound
from luna.services.interactions import AlsoFile, UsageItem, insert_usage
from luna.services.members import MEMBER_BY_PHONE, MemberOut, member_out

InboundStatus = Literal["received", "replied", "failed"]
ReplyVia = Literal["twiml", "rest"]

# Twilio's delivery states, in the order a message passes through them; callbacks can arrive
# out of order, and a late "sent" must not undo "delivered".
_DELIVERY_RANK = {
    "outbox": 0, "accepted": 0, "scheduled": 0, "queued": 0,
    "sending": 1, "sent": 2,
    "delivered": 3, "undelivered": 3, "failed": 3, "read": 4, "canceled": 3,
}


def delivery_advances(old: str, new: str) -> bool:
    """Whether a status callback saying ``new`` should replace ``old``."""
    if new not in _DELIVERY_RANK:
        return False
    return _DELIVERY_RANK[new] >= _DELIVERY_RANK.get(old, 0) and new != old


@dataclass(frozen=True, slots=True)
class InboundClaim:
    """The outcome of claiming a MessageSid: ``fresh`` only for the first delivery."""

    fresh: bool
    status: InboundStatus
    reply: str | None = None
    reply_via: ReplyVia | None = None


@dataclass(frozen=True, slots=True)
class InboundOut:
    provider_sid: str
    household_id: int | None
    member_id: int | None
    body: str
    status: InboundStatus
    reply: str | None
    reply_via: ReplyVia | None
    created_at: datetime


_INBOUND: Table = InboundMessage.__table__  # type: ignore[assignment]
# Every text runs these; built once, they skip constructing the statement each time.
_INBOUND_CLAIM = insert(_INBOUND)
_FINISH = (
    update(_INBOUND)
    .where(_INBOUND.c.provider_sid == bindparam("sid"))
    .values(status=bindparam("status"), reply=bindparam("reply"),
            reply_via=bindparam("reply_via"))
)


class SmsInbox:
    def __init__(self, db: Database, clock: Clock, default_region: str = "US") -> None:
        self.db = db
        self.clock = clock
        self.default_region = default_region

    async def claim(
        self, sid: str, sender: str, body: str
    ) -> tuple[InboundClaim, MemberOut | None]:
        """Find who texted and claim the sid; of any number of deliveries of one sid, exactly
        one gets ``fresh`` (the unique INSERT decides, also between processes)."""
        try:
            phone: str | None = normalize_phone(sender, self.default_region)
        except ValueError:
            phone = None
        try:
            member = await self.db.run_write(_claim, sid, phone, body, self.clock.now())
        except IntegrityError:
            seen = await self.get(sid)
            if seen is None:  # pragma: no cover - the row that collided was deleted meanwhile
                raise
            return InboundClaim(False, seen.status, seen.reply, seen.reply_via), None
        return InboundClaim(True, "received"), member

    async def get(self, sid: str) -> InboundOut | None:
        async with self.db.read() as s:
            row = await s.scalar(select(InboundMessage).where(InboundMessage.provider_sid == sid))
            if row is None:
                return None
            return InboundOut(
                provider_sid=row.provider_sid, household_id=row.household_id,
                member_id=row.member_id, body=row.body, status=_status(row.status),
                reply=row.reply, reply_via=_via(row.reply_via), created_at=row.created_at,
            )

    async def finish(
        self,
        sid: str,
        status: InboundStatus,
        reply: str | None,
        via: ReplyVia | None,
        *,
        interaction_id: int | None = None,
        household_id: int | None = None,
        member_id: int | None = None,
        usage: Sequence[UsageItem] = (),
    ) -> None:
        """Store the outcome, and bill the usage to the turn's interaction, in one write."""
        await self.db.run_write(_finish, sid, status, reply, via, interaction_id, household_id,
                                member_id, usage, self.clock.now())

    def finish_with_turn(
        self, sid: str, reply: str, *, household_id: int, member_id: int,
        usage: Sequence[UsageItem],
    ) -> AlsoFile:
        """`finish` as a reply sent inline, written in the transaction that files the turn's
        Interaction (one commit where there were two)."""

        def also(conn: Connection, interaction_id: int) -> None:
            _finish(conn, sid, "replied", reply, "twiml", interaction_id, household_id,
                    member_id, usage, self.clock.now())

        return also

    async def record_sent(
        self,
        household_id: int,
        member_id: int | None,
        to_phone: str,
        body: str,
        provider_sid: str,
        status: str,
    ) -> int:
        """An SMS a provider accepted, stored so /api/messages and status callbacks see it."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = Message(
                household_id=household_id, kind="sms", from_member_id=None,
                to_member_ids=[member_id] if member_id is not None else [], to_phone=to_phone,
                body=body, channel="sms", status=status, provider_sid=provider_sid,
                created_at=now, updated_at=now,
            )
            s.add(row)
            await s.flush()
            return row.id

    async def update_delivery(self, provider_sid: str, status: str) -> bool:
        """Apply a status callback; False when the sid is unknown or the status is stale."""
        async with self.db.transaction() as s:
            row = await s.scalar(select(Message).where(Message.provider_sid == provider_sid))
            if row is None or not delivery_advances(row.status, status):
                return False
            row.status = status
            row.updated_at = self.clock.now()
            return True


def _claim(conn: Connection, sid: str, phone: str | None, body: str, now: datetime) -> (
    MemberOut | None
):
    row = None if phone is None else conn.execute(MEMBER_BY_PHONE, {"phone": phone}).first()
    member = None if row is None else member_out(row, row.household_tz)
    conn.execute(_INBOUND_CLAIM, {
        "provider_sid": sid,
        "household_id": member.household_id if member else None,
        "member_id": member.id if member else None,
        "body": body, "status": "received", "created_at": now,
    })
    return member


def _finish(
    conn: Connection, sid: str, status: InboundStatus, reply: str | None, via: ReplyVia | None,
    interaction_id: int | None, household_id: int | None, member_id: int | None,
    usage: Sequence[UsageItem], now: datetime,
) -> None:
    done = conn.execute(_FINISH, {"sid": sid, "status": status, "reply": reply, "reply_via": via})
    if not done.rowcount:
        raise NotFound(f"inbound message {sid} not found")
    if household_id is not None:
        insert_usage(conn, usage, interaction_id=interaction_id, household_id=household_id,
                     member_id=member_id, now=now)


def _status(value: str) -> InboundStatus:
    if value == "replied":
        return "replied"
    return "failed" if value == "failed" else "received"


def _via(value: str | None) -> ReplyVia | None:
    if value == "twiml":
        return "twiml"
    return "rest" if value == "rest" else None
