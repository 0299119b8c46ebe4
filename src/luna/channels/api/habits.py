"""Habits and their logs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.services.habits import (
    Frequency,
    HabitCategory,
    HabitLogOut,
    HabitOut,
    TargetKind,
    Weekday,
)

router = APIRouter(prefix="/api/habits", tags=["habits"])

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class HabitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = None
    name: str = Field(min_length=1, max_length=200)
    category: HabitCategory = "health"
    frequency: Frequency = "daily"
    times_per_week: int | None = Field(default=None, ge=1, le=7)
    weekdays: list[Weekday] = Field(default_factory=list)
    unit: str | None = Field(default=None, max_length=50)
    target: float | None = Field(default=None, gt=0)
    target_kind: TargetKind = "at_least"
    reminder_time: str | None = Field(default=None, pattern=HHMM)


class HabitPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: HabitCategory | None = None
    frequency: Frequency | None = None
    times_per_week: int | None = Field(default=None, ge=1, le=7)
    weekdays: list[Weekday] | None = None
    unit: str | None = Field(default=None, max_length=50)
    target: float | None = Field(default=None, gt=0)
    target_kind: TargetKind | None = None
    reminder_time: str | None = Field(default=None, pattern=HHMM)
    active: bool | None = None
    paused: bool | None = Field(default=None, description="Pause from today, or resume today")
    pause_until: dt.date | None = Field(default=None, description="Last paused day, inclusive")


class HabitLogIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    value: float | None = Field(default=None, ge=0)
    notes: str | None = None
    day: dt.date | None = Field(
        default=None, alias="date", description="The member-local day, for backdating"
    )
    skipped: bool = False


@router.get("")
async def list_habits(
    actor: MemberActorDep,
    svc: ServicesDep,
    member_id: int | None = None,
    include_inactive: bool = False,
) -> list[HabitOut]:
    return await svc.habits.list(actor, member_id=member_id, include_inactive=include_inactive)


@router.post("", status_code=201)
async def create_habit(body: HabitIn, actor: MemberActorDep, svc: ServicesDep) -> HabitOut:
    return await svc.habits.create(
        actor, name=body.name, member_id=body.member_id, category=body.category,
        frequency=body.frequency, times_per_week=body.times_per_week, weekdays=body.weekdays,
        unit=body.unit, target=body.target, target_kind=body.target_kind,
        reminder_time=body.reminder_time,
    )


@router.get("/{habit_id}")
async def get_habit(habit_id: int, actor: MemberActorDep, svc: ServicesDep) -> HabitOut:
    return await svc.habits.get(actor, habit_id)


@router.patch("/{habit_id}")
async def update_habit(
    habit_id: int, body: HabitPatch, actor: MemberActorDep, svc: ServicesDep
) -> HabitOut:
    return await svc.habits.update(actor, habit_id, body.model_dump(exclude_unset=True))


@router.delete("/{habit_id}", status_code=204)
async def delete_habit(habit_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    await svc.habits.delete(actor, habit_id)
    return Response(status_code=204)


@router.get("/{habit_id}/logs")
async def list_habit_logs(
    habit_id: int,
    actor: MemberActorDep,
    svc: ServicesDep,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
) -> list[HabitLogOut]:
    return await svc.habits.list_logs(actor, habit_id, start, end)


@router.post("/{habit_id}/logs", status_code=201)
async def log_habit(
    habit_id: int, body: HabitLogIn, actor: MemberActorDep, svc: ServicesDep
) -> HabitLogOut:
    return await svc.habits.log(
        actor, habit_id, value=body.value, notes=body.notes, day=body.day, skipped=body.skipped
    )
