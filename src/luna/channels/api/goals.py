"""Goals."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.services.goals import GoalCategory, GoalOut, GoalStatus, GoalTimeframe

router = APIRouter(prefix="/api/goals", tags=["goals"])


class GoalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = None
    title: str = Field(min_length=1, max_length=500)
    description: str | None = None
    category: GoalCategory = "personal"
    timeframe: GoalTimeframe = "monthly"
    unit: str | None = Field(default=None, max_length=50)
    baseline_value: float | None = None
    current_value: float | None = None
    target_value: float | None = None
    target_date: dt.date | None = None


class GoalPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = None
    category: GoalCategory | None = None
    timeframe: GoalTimeframe | None = None
    status: GoalStatus | None = None
    unit: str | None = Field(default=None, max_length=50)
    baseline_value: float | None = None
    current_value: float | None = None
    target_value: float | None = None
    target_date: dt.date | None = None


@router.get("")
async def list_goals(
    actor: MemberActorDep,
    svc: ServicesDep,
    member_id: int | None = None,
    status: GoalStatus | Literal["all", "open"] | None = None,
) -> list[GoalOut]:
    return await svc.goals.list(actor, member_id=member_id, status=status)


@router.post("", status_code=201)
async def create_goal(body: GoalIn, actor: MemberActorDep, svc: ServicesDep) -> GoalOut:
    return await svc.goals.create(actor, **body.model_dump())


@router.get("/{goal_id}")
async def get_goal(goal_id: int, actor: MemberActorDep, svc: ServicesDep) -> GoalOut:
    return await svc.goals.get(actor, goal_id)


@router.patch("/{goal_id}")
async def update_goal(
    goal_id: int, body: GoalPatch, actor: MemberActorDep, svc: ServicesDep
) -> GoalOut:
    return await svc.goals.update(actor, goal_id, body.model_dump(exclude_unset=True))


@router.delete("/{goal_id}", status_code=204)
async def delete_goal(goal_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    await svc.goals.delete(actor, goal_id)
    return Response(status_code=204)
