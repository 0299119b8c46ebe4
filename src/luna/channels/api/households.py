"""Households, members and tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from luna.channels.api.deps import ActorDep, MemberActorDep, ServicesDep
from luna.services.members import (
    CreatedHousehold,
    CreatedToken,
    HouseholdOut,
    MemberOut,
    MemberRole,
    Preferences,
)

router = APIRouter(prefix="/api", tags=["households"])


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    admin_name: str = Field(min_length=1, max_length=200)
    admin_phone: str | None = None
    admin_email: str | None = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    role: MemberRole = "adult"
    nicknames: list[str] = Field(default_factory=list)
    preferences: Preferences | None = None


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    role: MemberRole | None = None
    nicknames: list[str] | None = None
    onboarded: bool | None = None
    sms_opt_out: bool | None = None
    preferences: dict[str, Any] | None = None
    ai_context: dict[str, Any] | None = None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "default"


@router.post("/households", status_code=201)
async def create_household(
    body: HouseholdIn, actor: ActorDep, svc: ServicesDep
) -> CreatedHousehold:
    return await svc.members.create_household(
        actor,
        name=body.name,
        timezone=body.timezone,
        admin_name=body.admin_name,
        admin_phone=body.admin_phone,
        admin_email=body.admin_email,
    )


@router.get("/households")
async def list_households(actor: ActorDep, svc: ServicesDep) -> list[HouseholdOut]:
    return await svc.members.list_households(actor)


@router.get("/members")
async def list_members(actor: MemberActorDep, svc: ServicesDep) -> list[MemberOut]:
    return await svc.members.list(actor)


@router.post("/members", status_code=201)
async def add_member(body: MemberIn, actor: MemberActorDep, svc: ServicesDep) -> MemberOut:
    return await svc.members.add_member(
        actor,
        name=body.name,
        phone=body.phone,
        email=body.email,
        timezone=body.timezone,
        role=body.role,
        nicknames=body.nicknames,
        preferences=body.preferences.model_dump() if body.preferences else None,
    )


@router.get("/members/{member_id}")
async def get_member(member_id: int, actor: MemberActorDep, svc: ServicesDep) -> MemberOut:
    return await svc.members.get(actor, member_id)


@router.patch("/members/{member_id}")
async def update_member(
    member_id: int, body: MemberPatch, actor: MemberActorDep, svc: ServicesDep
) -> MemberOut:
    return await svc.members.update(actor, member_id, body.model_dump(exclude_unset=True))


@router.delete("/members/{member_id}", status_code=204)
async def delete_member(member_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    await svc.members.delete(actor, member_id)
    return Response(status_code=204)


@router.post("/members/{member_id}/tokens", status_code=201)
async def create_token(
    member_id: int, body: TokenIn, actor: MemberActorDep, svc: ServicesDep
) -> CreatedToken:
    return await svc.members.create_token(actor, member_id, body.name)
