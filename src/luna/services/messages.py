"""Family messages and the SMS outbox.

Until a provider port exists, outbound SMS rows wait with status "outbox"; a sender later picks
them up. Opted-out members get nothing, and the result says so ("suppressed").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Member, Message
from luna.domain.phones import normalize_phone
from luna.errors import InvalidInput, NotFound
from luna.services.access import Actor
from luna.services.zones import household_tz

MAX_BODY = 1600  # Twilio's limit for one (multi-part) SMS
MessageKind = Literal["family", "sms", "call"]
FamilyChannel = Literal["sms", "app"]
DeliveryStatus = Literal["outbox", "suppressed", "no_phone", "in_app"]


class MessageOut(BaseModel):
    id: int
    kind: MessageKind
    from_member_id: int | None
    to_member_ids: list[int]
    to_phone: str | None
    body: str
    channel: str
    status: str
    created_at: datetime


class Delivery(BaseModel):
    member_id: int
    name: str
    status: DeliveryStatus
    sms_id: int | None = None


class FamilyMessageOut(BaseModel):
    message: MessageOut
    deliveries: list[Delivery]


def message_out(m: Message, tz: str) -> MessageOut:
    return MessageOut(
        id=m.id, kind=m.kind,
        from_member_id=m.from_member_id, to_member_ids=[int(i) for i in m.to_member_ids or []],
        to_phone=m.to_phone, body=m.body, channel=m.channel, status=m.status,
        created_at=m.created_at.astimezone(ZoneInfo(tz)),
    )


def check_body(body: str, what: str = "message") -> str:
    text = body.strip()
    if not text:
        raise InvalidInput(f"a {what} needs some text")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"a {what} can be at most {MAX_BODY} characters ({len(text)} given)")
    return text


def sms_text(sender: str, body: str) -> str:
    """What the recipient's phone shows: it comes from Luna's number, so it names the sender."""
    text = f"{sender}: {body}"
    if len(text) > MAX_BODY:
        raise InvalidInput(f"the message is too long for SMS (at most {MAX_BODY} characters)")
    return text


class MessageService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def send_family_message(
        self,
        actor: Actor,
        to_member_ids: Sequence[int],
        body: str,
        channel: FamilyChannel = "sms",
    ) -> FamilyMessageOut:
        text = check_body(body)
        if actor.household_id is None or actor.member_id is None:
            raise InvalidInput("a family message is sent by a member; use a member's token")
        ids = list(dict.fromkeys(int(i) for i in to_member_ids))
        if not ids:
            raise InvalidInput("say who the message is for")
        if actor.member_id in ids:
            raise InvalidInput("a family message goes to someone else, not the sender")
        now = self.clock.now()
        async with self.db.transaction() as s:
            sender = await s.get(Member, actor.member_id)
            rows = {
                m.id: m for m in await s.scalars(
                    select(Member).where(
                        Member.id.in_(ids), Member.household_id == actor.household_id
                    )
                )
            }
            missing = [i for i in ids if i not in rows]
            if sender is None or missing:
                raise NotFound(f"member {missing[0] if missing else actor.member_id} not found")
            family = Message(
                household_id=actor.household_id, kind="family", from_member_id=sender.id,
                to_member_ids=ids, body=text, channel=channel, status="sent",
                created_at=now, updated_at=now,
            )
            s.add(family)
            await s.flush()
            deliveries: list[Delivery] = []
            outbound: list[tuple[Member, Message]] = []
            for mid in ids:
                m = rows[mid]
                if channel == "app":
                    deliveries.append(Delivery(member_id=m.id, name=m.name, status="in_app"))
                elif m.sms_opt_out:
                    deliveries.append(Delivery(member_id=m.id, name=m.name, status="suppressed"))
                elif not m.phone:
                    deliveries.append(Delivery(member_id=m.id, name=m.name, status="no_phone"))
                else:
                    sms = Message(
                        household_id=actor.household_id, kind="sms", from_member_id=sender.id,
                        to_member_ids=[m.id], to_phone=m.phone, body=sms_text(sender.name, text),
                        channel="sms", status="outbox", parent_id=family.id,
                        created_at=now, updated_at=now,
                    )
                    s.add(sms)
                    outbound.append((m, sms))
                    deliveries.append(Delivery(member_id=m.id, name=m.name, status="outbox"))
            await s.flush()
            sms_ids = {m.id: sms.id for m, sms in outbound}
            for d in deliveries:
                d.sms_id = sms_ids.get(d.member_id)
            tz = await household_tz(s, actor.household_id)
            return FamilyMessageOut(message=message_out(family, tz), deliveries=deliveries)

    async def queue_sms(
        self, household_id: int, member_id: int | None, to_phone: str, body: str
    ) -> MessageOut:
        """An SMS from Luna itself (a reminder, a reply) into the outbox."""
        text = check_body(body, "text message")
        try:
            phone = normalize_phone(to_phone)
        except ValueError as exc:
            raise InvalidInput(f"{to_phone!r} is not a valid phone number") from exc
        now = self.clock.now()
        async with self.db.transaction() as s:
            status = "outbox"
            if member_id is not None:
                m = await s.get(Member, member_id)
                if m is None or m.household_id != household_id:
                    raise NotFound(f"member {member_id} not found")
                # Someone who texted STOP must not hear from Luna again until they opt back in.
                status = "suppressed" if m.sms_opt_out else "outbox"
            row = Message(
                household_id=household_id, kind="sms", from_member_id=None,
                to_member_ids=[member_id] if member_id is not None else [], to_phone=phone,
                body=text, channel="sms", status=status, created_at=now, updated_at=now,
            )
            s.add(row)
            await s.flush()
            return message_out(row, await household_tz(s, household_id))

    async def list(
        self, actor: Actor, kind: MessageKind | None = None, limit: int = 100
    ) -> list[MessageOut]:
        """Newest first; a child sees only what they sent or what was sent to them."""
        if actor.household_id is None:
            raise InvalidInput("messages belong to a household; use a member's token")
        limit = max(1, min(limit, 500))
        async with self.db.read() as s:
            tz = await household_tz(s, actor.household_id)
            q = select(Message).where(Message.household_id == actor.household_id)
            if kind is not None:
                q = q.where(Message.kind == kind)
            q = q.order_by(Message.created_at.desc(), Message.id.desc())
            if not actor.is_child:
                return [message_out(m, tz) for m in await s.scalars(q.limit(limit))]
            # Recipients live in a JSON list, which SQLite and PostgreSQL query differently.
            mine: list[MessageOut] = []
            for m in await s.scalars(q):
                to = m.to_member_ids or []
                if m.from_member_id == actor.member_id or actor.member_id in to:
                    mine.append(message_out(m, tz))
                    if len(mine) >= limit:
                        break
            return mine
