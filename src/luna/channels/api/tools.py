"""POST /api/tools/{name}: a tool call through the very code path the assistant uses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from luna.brain.recording import TurnRegistry
from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.errors import NotFound
from luna.tools.context import context_for
from luna.tools.registry import Registry

router = APIRouter(prefix="/api/tools", tags=["tools"])


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolInfo(BaseModel):
    name: str
    description: str
    writes: bool
    parameters: dict[str, Any]


@router.get("")
async def list_tools(request: Request, _actor: MemberActorDep) -> list[ToolInfo]:
    registry: Registry = request.app.state.registry
    return [
        ToolInfo(name=s.name, description=s.description, writes=s.writes, parameters=s.parameters)
        for s in registry
    ]


@router.post("/{name}")
async def call_tool(
    name: str, body: ToolCallIn, request: Request, actor: MemberActorDep, svc: ServicesDep
) -> dict[str, Any]:
    registry: Registry = request.app.state.registry
    if name not in registry:
        raise NotFound(f"no tool named {name!r}")
    ctx = await context_for(svc, actor, body.member_id, channel="api")
    # Through a turn's view of the registry, so writes land in the action log (undo) too.
    result = await TurnRegistry(registry).invoke(name, ctx, body.arguments)
    return {"tool": name, **result.as_dict()}
