"""The family calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.services.calendar import EventOut, parse_window

router = APIRouter(prefix="/api/events", tags=["calendar"])


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    start: datetime
    end: datetime | None = None
    all_day: bool = False
    location: str | None = Field(default=None, max_length=300)
    notes: str | None = None
    member_ids: list[int] = Field(default_factory=list)


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool | None = None
    location: str | None = Field(default=None, max_length=300)
    notes: str | None = None
    member_ids: list[int] | None = None


@router.get("")
async def list_events(
    actor: MemberActorDep,
    svc: ServicesDep,
    start: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    member_id: int | None = None,
) -> list[EventOut]:
    tz = await svc.calendar.household_tz(actor)
    begin, stop = parse_window(start, to, tz, svc.clock.now())
    return await svc.calendar.list(actor, begin, stop, member_id=member_id)


@router.post("", status_code=201)
async def add_event(body: EventIn, actor: MemberActorDep, svc: ServicesDep) -> EventOut:
    return await svc.calendar.add(
        actor, body.title, body.start, body.end, all_day=body.all_day, location=body.location,
        notes=body.notes, member_ids=body.member_ids,
    )


@router.get("/{event_id}")
async def get_event(event_id: int, actor: MemberActorDep, svc: ServicesDep) -> EventOut:
    return await svc.calendar.get(actor, event_id)


@router.patch("/{event_id}")
async def update_event(
    event_id: int, body: EventPatch, actor: MemberActorDep, svc: ServicesDep
) -> EventOut:
    changes = body.model_dump(exclude_unset=True)
    for key in ("title", "start", "all_day"):
        if key in changes and changes[key] is None:
            del changes[key]  # null for a required field means "leave it"
    return await svc.calendar.update(actor, event_id, changes)


@router.delete("/{event_id}", status_code=204)
async def delete_event(event_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    await svc.calendar.delete(actor, event_id)
    return Response(status_code=204)
