"""What was said on each channel, and what it cost (tokens, minutes, messages)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection, Integer, Select, Table, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from luna.clock import Clock
from luna.db.engine import Database
from luna.db.models import Household, Interaction, Member, UsageRecord
from luna.domain.localday import combine_local
from luna.errors import Conflict, Forbidden, InvalidInput, NotFound
from luna.services.access import Actor, member_for_read, member_zone, require_household
from luna.services.actions import ActionEntry, FiledHere, insert_actions
from luna.services.zones import household_tz

Channel = Literal["sms", "voice", "web_chat", "web_voice"]
Direction = Literal["inbound", "outbound"]
CHANNELS: tuple[str, ...] = ("sms", "voice", "web_chat", "web_voice")
DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")
SUMMARY_CHARS = 160

# kind, quantity, unit, cost_usd
UsageItem = tuple[str, float, str, float]

AlsoFile = Callable[[Connection, int], None]
"""A channel's own bookkeeping for an exchange (an SMS's inbound row and its usage), written
in the Interaction's transaction with its new id: both are filed, or neither."""


class InteractionOut(BaseModel):
    id: int
    member_id: int | None
    channel: Channel
    direction: Direction
    user_message: str | None
    assistant_response: str | None
    transcript: list[Any]
    metadata: dict[str, Any]
    created_at: datetime


class UsageOut(BaseModel):
    """One member's total of one kind of usage over a period."""

    member_id: int | None
    kind: str
    unit: str
    quantity: float
    cost_usd: float


def interaction_out(i: Interaction, tz: str) -> InteractionOut:
    return InteractionOut(
        id=i.id, member_id=i.member_id,
        channel=i.channel, direction=i.direction,
        user_message=i.user_message, assistant_response=i.assistant_response,
        transcript=list(i.transcript or []), metadata=dict(i.meta or {}),
        created_at=i.created_at.astimezone(ZoneInfo(tz)),
    )


class _Summarized(Protocol):
    created_at: datetime
    channel: str
    user_message: str | None
    assistant_response: str | None


def summary_line(i: _Summarized, tz: str) -> str:
    """One line of history for the model: when, where, and the gist of both sides."""
    when = i.created_at.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")
    parts = [f"{when} ({i.channel.replace('_', ' ')})"]
    if i.user_message:
        parts.append(f"member: {_clip(i.user_message)}")
    if i.assistant_response:
        parts.append(f"Luna: {_clip(i.assistant_response)}")
    return " | ".join(parts)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[: SUMMARY_CHARS - 1].rstrip() + "…"


def month_bounds(year: int, month: int, tz: str) -> tuple[datetime, datetime]:
    if not 1 <= month <= 12 or not 2000 <= year <= 9999:
        raise InvalidInput("give a month as year (e.g. 2026) and month 1-12")
    first = date(year, month, 1)
    after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return combine_local(first, time(0), tz), combine_local(after, time(0), tz)


_INTERACTION_TABLE: Table = Interaction.__table__  # type: ignore[assignment]
# Only the columns a summary line needs: a call's transcript and metadata are most of its row.
_RECENT = (
    select(Interaction.created_at, Interaction.channel, Interaction.user_message,
           Interaction.assistant_response)
    .where(Interaction.member_id == bindparam("member_id"))
    .order_by(Interaction.created_at.desc(), Interaction.id.desc())
    .limit(bindparam("n", type_=Integer))
)
_INSERT_INTERACTION = insert(_INTERACTION_TABLE).returning(_INTERACTION_TABLE.c.id)
_USAGE_TABLE: Table = UsageRecord.__table__  # type: ignore[assignment]
_INSERT_USAGE = insert(_USAGE_TABLE)


def insert_usage(
    conn: Connection, usage: Sequence[UsageItem], *, interaction_id: int | None,
    household_id: int, member_id: int | None, now: datetime,
) -> None:
    """Usage rows inside the caller's transaction, as one plain INSERT."""
    if usage:
        conn.execute(_INSERT_USAGE, [
            {"interaction_id": interaction_id, "household_id": household_id,
             "member_id": member_id, "kind": kind, "quantity": float(quantity), "unit": unit,
             "cost_usd": float(cost), "created_at": now}
            for kind, quantity, unit, cost in usage
        ])


_HOUSEHOLD_ZONE = select(Household.timezone).where(Household.id == bindparam("household_id"))


def _zone(conn: Connection, household_id: int, member_id: int | None) -> str:
    """The timezone an exchange is shown in: the member's, else the household's."""
    if member_id is not None:
        zone = member_zone(conn, member_id)
        if zone is None or zone.household_id != household_id:
            raise NotFound(f"member {member_id} not found")
        return zone.tz
    tz = conn.execute(_HOUSEHOLD_ZONE, {"household_id": household_id}).scalar()
    if tz is None:
        raise NotFound(f"household {household_id} not found")
    return str(tz)


def _file(
    conn: Connection, values: dict[str, Any], meta: dict[str, Any], member_tz: str | None,
    actions: Sequence[ActionEntry], usage: Sequence[UsageItem], also: AlsoFile | None,
) -> tuple[int, list[int], str]:
    """One exchange with its action-log entries, usage and channel rows; its id, the entries'
    ids and the timezone it is shown in."""
    tz = member_tz or _zone(conn, values["household_id"], values["member_id"])
    try:
        new_id = int(conn.execute(
            _INSERT_INTERACTION, {**values, "metadata": meta}  # `meta` is column "metadata"
        ).scalar_one())
    except IntegrityError as exc:
        # The unique twilio_sid decides, also between processes: a retried webhook (or two
        # racing) files one turn.
        raise Conflict(f"interaction {values['twilio_sid']} was already recorded") from exc
    now = values["created_at"]
    action_ids = insert_actions(conn, actions, now) if actions else []
    insert_usage(conn, usage, interaction_id=new_id, household_id=values["household_id"],
                 member_id=values["member_id"], now=now)
    if also is not None:
        also(conn, new_id)
    return new_id, action_ids, tz


class InteractionService:
    def __init__(self, db: Database, clock: Clock, filed_here: FiledHere | None = None) -> None:
        self.db = db
        self.clock = clock
        self.filed_here = filed_here or FiledHere()

    async def record(
        self,
        household_id: int,
        member_id: int | None,
        channel: Channel,
        direction: Direction,
        user_message: str | None,
        assistant_response: str | None,
        transcript: Sequence[Any] = (),
        metadata: dict[str, Any] | None = None,
        twilio_sid: str | None = None,
        usage: Sequence[UsageItem] = (),
        member_tz: str | None = None,
        actions: Sequence[ActionEntry] = (),
        also: AlsoFile | None = None,
    ) -> InteractionOut:
        """Store one exchange; a repeated Twilio SID (a webhook retry) is a Conflict.

        `member_tz`: the member's timezone, from a caller that loaded the member for this
        household moments ago (a conversation turn), so the member is not looked up again.
        `actions`: the writes the exchange made, logged for "undo that" in the same
        transaction (on a Conflict neither is written).
        `also`: the channel's own rows for this exchange, in the same transaction.
        """
        if channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}")
        if direction not in DIRECTIONS:
            raise InvalidInput(f"unknown direction {direction!r}")
        now = self.clock.now()
        values: dict[str, Any] = {
            "household_id": household_id, "member_id": member_id, "channel": channel,
            "direction": direction, "user_message": user_message,
            "assistant_response": assistant_response, "transcript": list(transcript),
            "twilio_sid": twilio_sid or None, "created_at": now,
        }
        meta = dict(metadata or {})
        # Every turn files one: plain INSERTs in a Core transaction, no unit-of-work flush.
        new_id, action_ids, tz = await self.db.run_write(
            _file, values, meta, member_tz if member_id is not None else None, actions, usage,
            also,
        )
        self.filed_here.add(action_ids)
        return InteractionOut(
            id=new_id, member_id=member_id, channel=channel, direction=direction,
            user_message=user_message, assistant_response=assistant_response,
            transcript=values["transcript"], metadata=meta,
            created_at=now.astimezone(ZoneInfo(tz)),
        )

    async def get(self, actor: Actor, interaction_id: int) -> InteractionOut:
        async with self.db.read() as s:
            i = await s.get(Interaction, interaction_id)
            if i is None:
                raise NotFound(f"interaction {interaction_id} not found")
            require_household(actor, i.household_id)
            if actor.is_child and i.member_id != actor.member_id:
                raise Forbidden("a child can only read their own conversations")
            return interaction_out(i, await household_tz(s, i.household_id))

    async def recent_summary(
        self, member_id: int, limit: int = 5, *, tz: str | None = None
    ) -> list[str]:
        """The member's last few exchanges, oldest first, as short lines for the model.

        A caller that holds the member already passes their timezone, which saves reading the
        member again (this runs at the start of every call and conversation)."""
        async with self.db.read() as s:
            if tz is None:
                m = await s.get(Member, member_id)
                if m is None:
                    raise NotFound(f"member {member_id} not found")
                tz = m.timezone or await household_tz(s, m.household_id)
            rows = list(await s.execute(_RECENT, {"member_id": member_id, "n": max(1, limit)}))
            return [summary_line(i, tz) for i in reversed(rows)]

    async def usage_by_member_month(self, actor: Actor, year: int, month: int) -> list[UsageOut]:
        """Totals per member and kind for a calendar month in the household's timezone."""
        hid = _household(actor)
        async with self.db.read() as s:
            start, end = month_bounds(year, month, await household_tz(s, hid))
            q = (
                select(
                    UsageRecord.member_id, UsageRecord.kind, UsageRecord.unit,
                    func.sum(UsageRecord.quantity), func.sum(UsageRecord.cost_usd),
                )
                .where(
                    UsageRecord.household_id == hid,
                    UsageRecord.created_at >= start, UsageRecord.created_at < end,
                )
                .group_by(UsageRecord.member_id, UsageRecord.kind, UsageRecord.unit)
                .order_by(UsageRecord.member_id, UsageRecord.kind, UsageRecord.unit)
            )
            if actor.is_child:
                q = q.where(UsageRecord.member_id == actor.member_id)
            return [
                UsageOut(member_id=mid, kind=kind, unit=unit, quantity=float(qty or 0),
                         cost_usd=round(float(cost or 0), 6))
                for mid, kind, unit, qty, cost in await s.execute(q)
            ]

    async def household_tz(self, actor: Actor) -> str:
        async with self.db.read() as s:
            return await household_tz(s, _household(actor))

    async def list(
        self,
        actor: Actor,
        member_id: int | None = None,
        channel: Channel | None = None,
        limit: int = 50,
    ) -> list[InteractionOut]:
        """Newest first; a child sees only their own."""
        hid = _household(actor)
        async with self.db.read() as s:
            tz = await household_tz(s, hid)
            q: Select[Interaction] = select(Interaction).where(
                Interaction.household_id == hid
            )
            if member_id is not None or actor.is_child:
                m = await member_for_read(s, actor, member_id)
                q = q.where(Interaction.member_id == m.id)
            if channel is not None:
                q = q.where(Interaction.channel == channel)
            q = q.order_by(Interaction.created_at.desc(), Interaction.id.desc())
            rows = await s.scalars(q.limit(max(1, min(limit, 500))))
            return [interaction_out(i, tz) for i in rows]

def _household(actor: Actor) -> int:
    if actor.household_id is None:
        raise InvalidInput("conversations belong to a household; use a member's token")
    return actor.household_id
