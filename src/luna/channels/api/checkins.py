"""Daily check-ins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.services.checkins import MAX_EXERCISE_MINUTES, CheckinOut

router = APIRouter(prefix="/api/checkins", tags=["checkins"])


class CheckinIn(BaseModel):
    """Fields to merge into the day's check-in; omitted or null fields keep their value."""

    model_config = ConfigDict(extra="forbid")
    sleep_quality: int | None = Field(default=None, ge=1, le=10)
    mood: int | None = Field(default=None, ge=1, le=10)
    energy: int | None = Field(default=None, ge=1, le=10)
    exercise_minutes: int | None = Field(default=None, ge=0, le=MAX_EXERCISE_MINUTES)
    notes: str | None = None


@router.get("")
async def list_checkins(
    actor: MemberActorDep,
    svc: ServicesDep,
    member_id: int | None = None,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
) -> list[CheckinOut]:
    return await svc.checkins.list(actor, member_id, start, end)


@router.put("/{member_id}/{day}")
async def put_checkin(
    member_id: int, day: dt.date, body: CheckinIn, actor: MemberActorDep, svc: ServicesDep
) -> CheckinOut:
    return await svc.checkins.upsert(actor, member_id, day, **body.model_dump())
