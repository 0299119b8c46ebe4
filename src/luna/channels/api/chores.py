"""Chores: the household's shared jobs, their completions and the points board."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.errors import InvalidInput
from luna.services.chores import (
    ChoreCompletionOut,
    ChoreDetail,
    ChoreOut,
    ChoreSuggestion,
    MemberPoints,
    Mode,
    ScheduleIn,
)

router = APIRouter(prefix="/api/chores", tags=["chores"])

# Older clients say familyMember; both spellings mean the same filter.
MemberQuery = Annotated[int | None, Query()]
FamilyMemberQuery = Annotated[int | None, Query(alias="familyMember")]


class ChoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    assignee_id: int | None = None
    assignment_mode: Mode = "fixed"
    rotation_member_ids: list[int] = Field(default_factory=list)
    schedule: ScheduleIn = Field(default_factory=ScheduleIn)
    due_time: str | None = None
    points: int = Field(default=1, ge=0)
    notes: str | None = None


class ChorePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    notes: str | None = None
    points: int | None = Field(default=None, ge=0)
    schedule: ScheduleIn | None = None
    due_time: str | None = None
    assignee_id: int | None = None
    assignment_mode: Mode | None = None
    rotation_member_ids: list[int] | None = None
    active: bool | None = None


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    completed_by: int | None = Field(
        default=None, validation_alias=AliasChoices("completed_by", "completedBy")
    )


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date


class DelegateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_member_id: int


def _member(member_id: int | None, family_member: int | None) -> int | None:
    if member_id is not None and family_member is not None and member_id != family_member:
        raise InvalidInput("member_id and familyMember disagree; give one of them")
    return member_id if member_id is not None else family_member


@router.get("")
async def list_chores(
    actor: MemberActorDep,
    svc: ServicesDep,
    day: Annotated[date | None, Query(alias="date")] = None,
    member_id: MemberQuery = None,
    family_member: FamilyMemberQuery = None,
) -> list[ChoreOut]:
    return await svc.chores.list(actor, day=day, member_id=_member(member_id, family_member))


@router.post("", status_code=201)
async def create_chore(body: ChoreIn, actor: MemberActorDep, svc: ServicesDep) -> ChoreOut:
    return await svc.chores.create(
        actor, title=body.title, schedule=body.schedule, assignee_id=body.assignee_id,
        assignment_mode=body.assignment_mode, rotation_member_ids=body.rotation_member_ids,
        due_time=body.due_time, points=body.points, notes=body.notes,
    )


# Fixed paths come before /{chore_id}, which would otherwise swallow them.
@router.get("/overdue")
async def overdue_chores(
    actor: MemberActorDep,
    svc: ServicesDep,
    member_id: MemberQuery = None,
    family_member: FamilyMemberQuery = None,
) -> list[ChoreOut]:
    return await svc.chores.overdue(actor, member_id=_member(member_id, family_member))


@router.get("/points")
async def points_board(
    actor: MemberActorDep, svc: ServicesDep, days: Annotated[int, Query(ge=1, le=366)] = 7
) -> list[MemberPoints]:
    return await svc.chores.points(actor, days)


@router.get("/suggestions")
async def suggestions(actor: MemberActorDep, svc: ServicesDep) -> list[ChoreSuggestion]:
    return await svc.chores.suggest(actor)


@router.post("/completions/{completion_id}/undo")
async def undo_completion(completion_id: int, actor: MemberActorDep, svc: ServicesDep) -> ChoreOut:
    return await svc.chores.undo(actor, completion_id)


@router.get("/{chore_id}")
async def get_chore(chore_id: int, actor: MemberActorDep, svc: ServicesDep) -> ChoreDetail:
    return await svc.chores.get(actor, chore_id)


@router.patch("/{chore_id}")
async def update_chore(
    chore_id: int, body: ChorePatch, actor: MemberActorDep, svc: ServicesDep
) -> ChoreOut:
    return await svc.chores.update(actor, chore_id, body.model_dump(exclude_unset=True))


@router.delete("/{chore_id}", status_code=204)
async def delete_chore(chore_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    # Soft: the completion history and the points it earned stay.
    await svc.chores.update(actor, chore_id, {"active": False})
    return Response(status_code=204)


@router.post("/{chore_id}/complete")
async def complete_chore(
    chore_id: int, actor: MemberActorDep, svc: ServicesDep, body: CompleteIn | None = None
) -> ChoreCompletionOut:
    return await svc.chores.complete(actor, chore_id, body.completed_by if body else None)


@router.post("/{chore_id}/skip")
async def skip_chore(chore_id: int, actor: MemberActorDep, svc: ServicesDep) -> ChoreCompletionOut:
    return await svc.chores.skip(actor, chore_id)


@router.post("/{chore_id}/reschedule")
async def reschedule_chore(
    chore_id: int, body: RescheduleIn, actor: MemberActorDep, svc: ServicesDep
) -> ChoreOut:
    return await svc.chores.reschedule(actor, chore_id, body.date)


@router.post("/{chore_id}/delegate")
async def delegate_chore(
    chore_id: int, body: DelegateIn, actor: MemberActorDep, svc: ServicesDep
) -> ChoreOut:
    return await svc.chores.delegate(actor, chore_id, body.to_member_id)
