"""The profile memory tool: what Luna learns about the member, merged, never overwritten."""

from __future__ import annotations

from typing import Any

from luna.errors import InvalidInput
from luna.tools.catalog import registry
from luna.tools.context import ToolContext


@registry.tool(writes=True)
async def update_user_profile(
    ctx: ToolContext,
    name: str | None = None,
    timezone: str | None = None,
    onboarded: bool | None = None,
    personality: str | None = None,
    interests: list[str] | None = None,
    challenges: list[str] | None = None,
    values: list[str] | None = None,
    motivations: list[str] | None = None,
    communication_style: str | None = None,
    recent_wins: list[str] | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """Remember something about the member. Lists are added to (duplicates dropped), text
    replaces earlier text, and nothing already known is erased.

    Args:
        name: The name the member wants to be called.
        timezone: Their IANA timezone, e.g. "America/Chicago".
        onboarded: True once getting to know them is done.
        personality: A short description of their personality.
        interests: Things they enjoy.
        challenges: Things they struggle with.
        values: What matters most to them.
        motivations: What drives them.
        communication_style: How they like to be spoken to ("brief and direct").
        recent_wins: Recent successes worth celebrating.
        notes: Anything else worth remembering; added to earlier notes.
    """
    learning = {
        "interests": interests, "challenges": challenges, "values": values,
        "motivations": motivations, "communication_style": communication_style,
        "recent_wins": recent_wins, "notes": notes,
    }
    changes: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput("a name can't be empty")
        changes["name"] = name.strip()
    if timezone is not None and timezone.strip():
        changes["timezone"] = timezone.strip()
    if onboarded is not None:
        changes["onboarded"] = onboarded
    learned = {k: v for k, v in learning.items() if v is not None}
    if personality is not None or learned:
        changes["ai_context"] = {"personality": personality, "learning_data": learned}
    members = ctx.services.members
    member = (await members.update(ctx.actor, ctx.member.id, changes) if changes
              else await members.get(ctx.actor, ctx.member.id))
    return {
        "name": member.name, "timezone": member.timezone, "onboarded": member.onboarded,
        "ai_context": member.ai_context,
    }
