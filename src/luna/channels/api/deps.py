"""Request dependencies: the services and the authenticated caller."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from luna.config import Settings
from luna.errors import Forbidden, Unauthorized
from luna.services.access import ADMIN, Actor
from luna.services.container import Services

_bearer = HTTPBearer(auto_error=False, description="A member token or the server admin token")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    token = credentials.credentials if credentials else request.cookies.get("luna_session")
    if not token:
        raise Unauthorized("a bearer token is required")
    settings = get_settings(request)
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return ADMIN
    return await get_services(request).members.authenticate(token)


def member_scope(actor: Actor) -> Actor:
    """Endpoints about one household need a member's token, not the bare admin token."""
    if actor.household_id is None:
        raise Forbidden("use a member's token for household data")
    return actor


async def get_member_actor(actor: Annotated[Actor, Depends(get_actor)]) -> Actor:
    return member_scope(actor)


ServicesDep = Annotated[Services, Depends(get_services)]
ActorDep = Annotated[Actor, Depends(get_actor)]
MemberActorDep = Annotated[Actor, Depends(get_member_actor)]
