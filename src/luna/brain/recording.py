"""Every successful write a tool makes becomes an ActionLog row with its undo recipe.

The recipe needs the state before the call (the old due time, the earlier mood), so a write is
snapshotted first. `TurnRegistry` does both around each call; the voice path, which invokes
tools itself, logs with `record_tool_actions` after the fact, without snapshots, where "undo"
then covers only what the result tells.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from luna.brain.types import Action
from luna.errors import LunaError
from luna.services.actions import CHECKIN_FIELDS, NOT_UNDOABLE, ActionEntry
from luna.services.container import Services
from luna.tools import catalog
from luna.tools.context import ToolContext
from luna.tools.registry import Registry, ToolResult, ToolSpec

log = structlog.get_logger(__name__)

OnAction = Callable[[Action], Awaitable[None]]
Snapshot = dict[str, Any]

NOT_RECORDED = frozenset({"undo_last_action"})
"""Undoing is not itself undoable; "undo" twice takes back the change before."""

_SNAPSHOTS: Mapping[str, str] = {
    "complete_task": "tasks",
    "reschedule_task": "tasks",
    "update_goal_progress": "goals",
    "update_daily_metrics": "checkins",
}


@dataclass(frozen=True, slots=True)
class Planned:
    """How one action is logged: what it was about and how to take it back."""

    summary: str
    target_kind: str | None
    target_id: int | None
    undo: dict[str, Any]


def action_from(name: str, arguments: Mapping[str, Any] | str | None, res: ToolResult) -> Action:
    return Action(
        tool=name, arguments=parse_arguments(arguments), ok=res.ok,
        result=res.data if res.ok else None, error=res.error, detail=res.detail,
    )


def parse_arguments(arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            loaded = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            return {"_raw": arguments}
        return loaded if isinstance(loaded, dict) else {"_raw": arguments}
    return dict(arguments or {})


async def snapshot_before(ctx: ToolContext, tool: str) -> Snapshot | None:
    """What the write `tool` may change, read just before it runs; None when nothing is needed."""
    kind = _SNAPSHOTS.get(tool)
    if kind is None:
        return None
    svc, actor, member_id = ctx.services, ctx.actor, ctx.member.id
    try:
        if kind == "tasks":
            zi = ZoneInfo(ctx.tz)  # the undo's reply reads the old time on the member's clock
            return {str(i): {"status": status,
                             "due_at": due.astimezone(zi).isoformat() if due else None}
                    for i, (status, due) in (await svc.tasks.open_states(actor, member_id)).items()}
        if kind == "goals":
            return {str(i): g._asdict()
                    for i, g in (await svc.goals.states(actor, member_id)).items()}
        today = ctx.now().astimezone(ZoneInfo(ctx.tz)).date()
        rows = await svc.checkins.list(actor, member_id, start=today - timedelta(days=9))
        return {r.date.isoformat(): {k: getattr(r, k) for k in CHECKIN_FIELDS} for r in rows}
    except LunaError:
        return None



def plan(action: Action, before: Snapshot | None) -> Planned:
    """The log entry for a successful write: pure, from the result and the snapshot."""
    data: dict[str, Any] = action.result if isinstance(action.result, dict) else {}
    tool = action.tool
    if tool == "create_task":
        title = _q(data.get("title"))
        return Planned(f"added the task {title}", "task", data.get("id"),
                       {"op": "delete_task", "done": f"I removed the task {title}."})
    if tool in ("complete_task", "reschedule_task"):
        return _task_change(tool, data, before)
    if tool == "log_habit":
        entry, habit = data.get("log") or {}, data.get("habit") or {}
        name = _q(habit.get("name"))
        return Planned(f"logged {name}", "habit_log", entry.get("id"), {
            "op": "delete_habit_log", "habit_created": bool(data.get("created")),
            "done": f"I took back that {name} log.",
        })
    if tool == "update_daily_metrics":
        day = str(data.get("date"))
        undo: dict[str, Any] = (
            {"op": "restore_checkin", "day": day, "previous": before.get(day),
             "done": f"your check-in for {day} is back to how it was."}
            if before is not None else
            {"op": NOT_UNDOABLE, "reason": "I don't know what the check-in said before"}
        )
        return Planned(f"updated the check-in for {day}", "checkin", None, undo)
    if tool == "create_goal":
        title = _q(data.get("title"))
        return Planned(f"set the goal {title}", "goal", data.get("id"),
                       {"op": "delete_goal", "done": f"I removed the goal {title}."})
    if tool == "update_goal_progress":
        goal = data.get("goal") or {}
        title = _q(goal.get("title"))
        previous = (before or {}).get(str(goal.get("id")))
        undo = (
            {"op": "restore_goal", **previous, "done": f"{title} is back where it was."}
            if previous is not None else
            {"op": NOT_UNDOABLE, "reason": f"I don't know where {title} stood before"}
        )
        return Planned(f"updated progress on {title}", "goal", goal.get("id"), undo)
    if tool == "create_chore":
        title = _q(data.get("title"))
        return Planned(f"added the chore {title}", "chore", data.get("id"),
                       {"op": "deactivate_chore", "done": f"I took the chore {title} off."})
    if tool == "complete_chore":
        title = _q(action.arguments.get("chore"))
        return Planned(f"checked off the chore {title}", "chore_completion", data.get("id"),
                       {"op": "undo_chore_completion", "done": f"{title} is not done any more."})
    if tool == "add_event":
        title = _q(data.get("title"))
        return Planned(f"added {title} to the calendar", "event", data.get("id"),
                       {"op": "delete_event", "done": f"I took {title} off the calendar."})
    if tool == "send_family_message":
        message = data.get("message") or {}
        return Planned("sent a family message", "message", message.get("id"), {
            "op": NOT_UNDOABLE,
            "reason": "that message has already gone out, and a sent message can't be unsent",
        })
    if tool == "update_user_profile":
        # Memory is written in the background of a conversation; "undo" means the member's
        # last real change, so this entry is passed over.
        return Planned("remembered something about you", "member", None,
                       {"op": NOT_UNDOABLE, "skip": True})
    return Planned(tool.replace("_", " "), None, None,
                   {"op": NOT_UNDOABLE, "reason": f"I can't undo {tool.replace('_', ' ')} yet"})


def _task_change(tool: str, data: dict[str, Any], before: Snapshot | None) -> Planned:
    title = _q(data.get("title"))
    previous = (before or {}).get(str(data.get("id")))
    if tool == "complete_task":
        status = previous["status"] if previous else "pending"
        return Planned(f"completed the task {title}", "task", data.get("id"), {
            "op": "restore_task", "status": status, "done": f"{title} is open again.",
        })
    due = data.get("due_at")
    summary = f"moved {title} to {_when(due)}" if due else f"moved {title}"
    if previous is None:
        return Planned(summary, "task", data.get("id"),
                       {"op": NOT_UNDOABLE, "reason": f"I don't know when {title} was due before"})
    was = previous["due_at"]
    done = f"{title} is due {_when(was)} again." if was else f"{title} has no due time again."
    return Planned(summary, "task", data.get("id"),
                   {"op": "restore_task", "due_at": was, "done": done})


def _q(value: Any) -> str:
    return f"“{value}”" if value else "that"


def _when(iso: Any) -> str:
    try:
        return datetime.fromisoformat(str(iso)).strftime("%a %d %b %H:%M")
    except ValueError:
        return str(iso)


_CHORE_TARGETS = frozenset({"chore", "chore_completion"})


async def record_tool_actions(
    services: Services, ctx: ToolContext, actions: Sequence[Action]
) -> None:
    """Log the writes among `actions`, made elsewhere (a call), after the fact."""
    tools = catalog.load()
    entries = [
        entry for action in actions
        if (spec := tools.get(action.tool)) is not None and spec.writes
        and (entry := action_entry(services, ctx, action, None)) is not None
    ]
    await file_actions(services, entries)


def action_entry(
    services: Services, ctx: ToolContext, action: Action, before: Snapshot | None
) -> ActionEntry | None:
    """The action-log entry for a successful write; None for what is not logged."""
    if not action.ok or action.tool in NOT_RECORDED:
        return None
    planned = plan(action, before)
    if planned.target_kind in _CHORE_TARGETS and services.chore_backend is not services.chores:
        # The chore lives in the external chore app under that app's id; the local undo would
        # reverse whichever local chore happens to share the number.
        planned = replace(planned, undo={
            "op": NOT_UNDOABLE,
            "reason": "your chores are kept in the chore app, so change it back there",
        })
    return ActionEntry(
        ctx.member.id, ctx.member.household_id, action.tool, planned.summary,
        planned.target_kind, planned.target_id, planned.undo, ctx.channel,
    )


async def file_actions(services: Services, entries: Sequence[ActionEntry]) -> None:
    """Log each entry on its own transaction."""
    for entry in entries:
        try:
            await services.actions.file(entry)
        except Exception:
            # The member's change already happened; losing its undo entry must not fail the turn.
            log.exception("action_log_failed", tool=entry.tool)


class TurnRegistry(Registry):
    """The catalog as one turn sees it: the same tools, each write snapshotted and logged, and
    every call reported to `on_action` as it finishes (the CLI prints them live).

    With `defer_log`, the log entries wait in `pending` for the turn's owner to file them with
    the turn's Interaction, in one transaction (`converse`); `flush_pending` files them alone.
    """

    def __init__(
        self, base: Registry, on_action: OnAction | None = None, *, defer_log: bool = False
    ) -> None:
        super().__init__()
        self.base = base
        self.on_action = on_action
        self.defer_log = defer_log
        self.pending: list[ActionEntry] = []

    def tool(self, *, writes: bool) -> Callable[[Any], Any]:
        raise TypeError("register tools in the catalog registry, not a turn's view of it")

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self.base)

    def __contains__(self, name: object) -> bool:
        return name in self.base

    def names(self) -> list[str]:
        return self.base.names()

    def get(self, name: str) -> ToolSpec | None:
        return self.base.get(name)

    async def invoke(
        self, name: str, ctx: ToolContext, arguments: Mapping[str, Any] | str | None
    ) -> ToolResult:
        spec = self.base.get(name)
        writes = spec is not None and spec.writes
        if name in NOT_RECORDED:
            # "Undo" reads the log: this turn's own earlier writes must be in it first.
            await self.flush_pending(ctx.services)
        # The snapshot and the tool's reads share one session (and one load of the member).
        async with ctx.services.db.shared_reads():
            before = await snapshot_before(ctx, name) if writes else None
            res = await self.base.invoke(name, ctx, arguments)
        action = action_from(name, arguments, res)
        if writes and (entry := action_entry(ctx.services, ctx, action, before)) is not None:
            if self.defer_log:
                self.pending.append(entry)
            else:
                await file_actions(ctx.services, [entry])
        if self.on_action is not None:
            await self.on_action(action)
        return res

    async def flush_pending(self, services: Services) -> None:
        entries, self.pending = self.pending, []
        await file_actions(services, entries)

