"""The undo tool: take back the speaker's latest change ("undo that", "oops, cancel that")."""

from __future__ import annotations

from luna.services.actions import UndoOut
from luna.tools.catalog import registry
from luna.tools.context import ToolContext


@registry.tool(writes=True)
async def undo_last_action(ctx: ToolContext) -> UndoOut:
    """Undo the member's most recent change made through Luna in the last 10 minutes (a task
    added, a habit logged, a chore checked off ...). Sent messages cannot be unsent."""
    return await ctx.services.actions.undo_last(ctx.actor)
