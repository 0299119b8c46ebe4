"""What a tool knows about its call: who is speaking, through which channel, and the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from luna.errors import Forbidden, InvalidInput
from luna.services.access import Actor
from luna.services.container import Services
from luna.services.members import MemberOut


@dataclass(frozen=True, slots=True)
class ToolContext:
    services: Services
    member: MemberOut
    channel: str = "api"

    @property
    def actor(self) -> Actor:
        return Actor(
            household_id=self.member.household_id,
            member_id=self.member.id,
            role="child" if self.member.role == "child" else "adult",
        )

    @property
    def tz(self) -> str:
        return self.member.timezone

    def now(self) -> datetime:
        return self.services.clock.now()

    def local_now(self) -> datetime:
        return self.now().astimezone(ZoneInfo(self.tz))


async def context_for(
    services: Services, caller: Actor, member_id: int | None, channel: str = "api"
) -> ToolContext:
    """A context acting for `member_id` (default: the caller), checked against the caller."""
    target = caller.member_id if member_id is None else member_id
    if target is None:
        raise InvalidInput("member_id is required")
    member = await services.members.get(caller, target)
    if caller.is_child and member.id != caller.member_id:
        raise Forbidden("a child's token acts only for that child")
    return ToolContext(services=services, member=member, channel=channel)

