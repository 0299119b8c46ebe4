"""iCal feeds: GET /feeds/{secret}.ics for calendar apps, and /api/feeds to make and revoke them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from luna.channels.api.deps import MemberActorDep, ServicesDep, get_settings
from luna.config import Settings
from luna.services.feeds import FeedOut

router = APIRouter(tags=["feeds"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = None
    """A member's own feed; leave empty for the whole household's."""


class CreatedFeedOut(BaseModel):
    id: int
    member_id: int | None
    url: str
    """The secret subscription URL; shown once, revoke it to stop it working."""
    created_at: datetime


def feed_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/feeds/{token}.ics"


@router.get("/feeds/{secret}.ics", response_class=Response)
async def feed(secret: str, svc: ServicesDep) -> Response:
    text = await svc.feeds.render(secret)
    # A secret URL must not sit in shared caches.
    return Response(text, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})


@router.post("/api/feeds", status_code=201)
async def create_feed(
    body: FeedIn, actor: MemberActorDep, svc: ServicesDep, settings: SettingsDep
) -> CreatedFeedOut:
    created = await svc.feeds.create(actor, body.member_id)
    return CreatedFeedOut(id=created.id, member_id=created.member_id,
                          url=feed_url(settings, created.token), created_at=created.created_at)


@router.get("/api/feeds")
async def list_feeds(actor: MemberActorDep, svc: ServicesDep) -> list[FeedOut]:
    return await svc.feeds.list(actor)


@router.delete("/api/feeds/{feed_id}", status_code=204)
async def revoke_feed(feed_id: int, actor: MemberActorDep, svc: ServicesDep) -> Response:
    await svc.feeds.revoke(actor, feed_id)
    return Response(status_code=204)
