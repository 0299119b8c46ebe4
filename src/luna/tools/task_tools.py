"""Task tools: create, list, complete and reschedule a member's to-dos."""

from __future__ import annotations

from typing import Any, Literal

from luna.errors import InvalidInput
from luna.services.tasks import Category, Priority, TaskOut
from luna.services.when import parse_when
from luna.tools.catalog import registry
from luna.tools.context import ToolContext


def _future(ctx: ToolContext, when: str) -> Any:
    due = parse_when(when, ctx.tz, ctx.now())
    if due <= ctx.now():
        raise InvalidInput(f"{when!r} is in the past; give a time that is still to come")
    return due


@registry.tool(writes=True)
async def create_task(
    ctx: ToolContext,
    title: str,
    due: str | None = None,
    priority: Priority = "medium",
    category: Category = "other",
    notes: str | None = None,
) -> TaskOut:
    """Add a task (a to-do) to the member's list.

    Args:
        title: What needs doing, short, without the date words ("Call the dentist").
        due: When it is due: ISO 8601 local time ("2026-03-05T15:00") or words ("tomorrow at 3pm").
        priority: How important it is.
        category: What area of life it belongs to.
        notes: Any extra detail worth keeping.
    """
    due_at = _future(ctx, due) if due else None
    return await ctx.services.tasks.create(
        ctx.actor, title=title, member_id=ctx.member.id, notes=notes, priority=priority,
        category=category, due_at=due_at, source_channel=ctx.channel,
    )


@registry.tool(writes=False)
async def get_tasks(
    ctx: ToolContext,
    status: Literal["open", "pending", "in_progress", "completed", "cancelled"] = "open",
    priority: Priority | None = None,
    due_from: str | None = None,
    due_to: str | None = None,
    overdue_only: bool = False,
) -> dict[str, Any]:
    """List the member's tasks, soonest due first.

    Args:
        status: Which tasks: "open" means pending or in progress.
        priority: Only tasks of this priority.
        due_from: Only tasks due at or after this time (ISO 8601 or words like "today").
        due_to: Only tasks due before this time (ISO 8601 or words like "friday").
        overdue_only: Only open tasks whose due time has passed.
    """
    after = parse_when(due_from, ctx.tz, ctx.now()) if due_from else None
    before = parse_when(due_to, ctx.tz, ctx.now()) if due_to else None
    tasks = await ctx.services.tasks.list(
        ctx.actor, member_id=ctx.member.id, status=status, priority=priority,
        overdue=True if overdue_only else None, due_after=after, due_before=before,
    )
    return {"count": len(tasks), "tasks": tasks}


@registry.tool(writes=True)
async def complete_task(ctx: ToolContext, task: str) -> TaskOut:
    """Mark one of the member's open tasks as done.

    Args:
        task: The task's title as the member said it (fuzzy-matched), or its id.
    """
    tasks = ctx.services.tasks
    if task.strip().isdigit():
        return await tasks.complete(ctx.actor, int(task))
    found = await tasks.find_open(ctx.actor, ctx.member.id, task)
    return await tasks.complete(ctx.actor, found.id)


@registry.tool(writes=True)
async def reschedule_task(ctx: ToolContext, task: str, due: str) -> TaskOut:
    """Move one of the member's open tasks to a new due time.

    Args:
        task: The task's title as the member said it (fuzzy-matched), or its id.
        due: The new due time: ISO 8601 local time or words ("next wednesday at 10").
    """
    due_at = _future(ctx, due)
    tasks = ctx.services.tasks
    task_id = int(task) if task.strip().isdigit() else (
        await tasks.find_open(ctx.actor, ctx.member.id, task)
    ).id
    return await tasks.reschedule(ctx.actor, task_id, due_at)
