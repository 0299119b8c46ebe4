"""Tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.services.tasks import Category, Priority, Status, TaskOut

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    member_id: int | None = None
    notes: str | None = None
    priority: Priority = "medium"
    category: Category = "other"
    due_at: datetime | None = None
    critical: bool = False


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    member_id: int | None = None
    notes: str | None = None
    priority: Priority | None = None
    category: Category | None = None
    status: Status | None = None
    due_at: datetime | None = None
    critical: bool | None = None


@router.get("")
async def list_tasks(
    actor: MemberActorDep,
    svc: ServicesDep,
    member_id: int | None = None,
    status: Status | Literal["open"] | None = None,
    overdue: bool | None = None,
) -> list[TaskOut]:
    return await svc.tasks.list(actor, member_id=member_id, status=status, overdue=overdue)


@router.post("", status_code=201)
async def create_task(body: TaskIn, actor: MemberActorDep, svc: ServicesDep) -> TaskOut:
    return await svc.tasks.create(
        actor, title=body.title, member_id=body.member_id, notes=body.notes,
        priority=body.priority, category=body.category, due_at=body.due_at, source_channel="api",
        critical=body.critical,
    )


@router.get("/{task_id}")
async def get_task(task_id: int, actor: MemberActorDep, svc: ServicesDep) -> TaskOut:
    return await svc.tasks.get(actor, task_id)


@router.patch("/{task_id}")
async def update_task(
    task_id: int, body: TaskPatch, actor: MemberActorDep, svc: ServicesDep
) -> TaskOut:
    return await svc.tasks.update(actor, task_id, body.model_dump(exclude_unset=True))


@router.delete("/{task_id}", status_code=204)
async def delete_task(task_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    await svc.tasks.delete(actor, task_id)
    return Response(status_code=204)
