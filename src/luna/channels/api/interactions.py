"""Conversation history, family messages and the outbox, and usage totals."""

from __future__ import annotations

from fastapi import APIRouter, Query

from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.domain.localday import local_now
from luna.services.interactions import Channel, InteractionOut, UsageOut
from luna.services.messages import MessageKind, MessageOut

router = APIRouter(prefix="/api", tags=["interactions"])


@router.get("/interactions")
async def list_interactions(
    actor: MemberActorDep,
    svc: ServicesDep,
    member_id: int | None = None,
    channel: Channel | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[InteractionOut]:
    return await svc.interactions.list(actor, member_id=member_id, channel=channel, limit=limit)


@router.get("/interactions/{interaction_id}")
async def get_interaction(
    interaction_id: int, actor: MemberActorDep, svc: ServicesDep
) -> InteractionOut:
    return await svc.interactions.get(actor, interaction_id)


@router.get("/messages")
async def list_messages(
    actor: MemberActorDep,
    svc: ServicesDep,
    kind: MessageKind | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[MessageOut]:
    return await svc.messages.list(actor, kind=kind, limit=limit)


@router.get("/usage")
async def usage(
    actor: MemberActorDep,
    svc: ServicesDep,
    year: int | None = Query(default=None, ge=2000, le=9999),
    month: int | None = Query(default=None, ge=1, le=12),
) -> list[UsageOut]:
    here = local_now(svc.clock.now(), await svc.interactions.household_tz(actor))
    return await svc.interactions.usage_by_member_month(
        actor, year or here.year, month or here.month
    )
