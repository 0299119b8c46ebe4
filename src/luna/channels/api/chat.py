"""POST /api/chat: one message to Luna, answered through the same brain as SMS and voice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from luna.brain.converse import Brain
from luna.brain.types import ConversationInput
from luna.channels.api.deps import MemberActorDep, ServicesDep
from luna.tools.context import context_for

router = APIRouter(prefix="/api/chat", tags=["chat"])

MAX_CHARS = 2000


def get_brain(request: Request) -> Brain:
    brain: Brain = request.app.state.brain
    return brain


BrainDep = Annotated[Brain, Depends(get_brain)]


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = None
    text: str = Field(min_length=1, max_length=MAX_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("say something")
        return text.strip()


class ChatAction(BaseModel):
    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: Any


class ChatOut(BaseModel):
    reply: str
    actions: list[ChatAction]
    handled_by: str
    interaction_id: int | None


@router.post("")
async def chat(
    body: ChatIn, actor: MemberActorDep, svc: ServicesDep, brain: BrainDep
) -> ChatOut:
    ctx = await context_for(svc, actor, body.member_id, channel="web_chat")
    result = await brain.converse(
        ConversationInput(member=ctx.member, channel="web_chat", text=body.text)
    )
    return ChatOut(
        reply=result.reply,
        actions=[ChatAction(**a.as_dict()) for a in result.actions],
        handled_by=result.handled_by,
        interaction_id=result.interaction_id,
    )
