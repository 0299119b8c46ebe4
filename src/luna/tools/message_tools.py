"""Message tools: pass a note to other people in the family."""

from __future__ import annotations

from luna.errors import InvalidInput
from luna.services.messages import FamilyMessageOut
from luna.tools.catalog import registry
from luna.tools.context import ToolContext
from luna.tools.people import resolve_members

EVERYONE = frozenset({"everyone", "all", "everybody", "the family", "family", "all of them"})


@registry.tool(writes=True)
async def send_family_message(ctx: ToolContext, to: list[str], body: str) -> FamilyMessageOut:
    """Send a message from the member to others in their family (by text unless they opted out).

    Args:
        to: Who gets it: names or nicknames of family members, or "everyone".
        body: The message itself, in the member's words.
    """
    if not to:
        raise InvalidInput("say who the message is for")
    if any(n.strip().lower() in EVERYONE for n in to):
        members = await ctx.services.members.list(ctx.actor)
        ids = [m.id for m in members if m.id != ctx.member.id]
        if not ids:
            raise InvalidInput("there is no one else in the family to message yet")
    else:
        ids = [m.id for m in await resolve_members(ctx, to)]
    return await ctx.services.messages.send_family_message(ctx.actor, ids, body)
