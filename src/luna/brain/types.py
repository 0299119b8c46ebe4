"""The values that flow through `converse()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from luna.services.interactions import AlsoFile
from luna.services.members import MemberOut

Channel = Literal["sms", "voice", "web_chat", "web_voice", "cli", "api"]


@dataclass(frozen=True, slots=True)
class ConversationInput:
    """One thing a member said or typed."""

    member: MemberOut
    """The speaker, known from the caller id, the web session or the CLI."""
    channel: Channel
    text: str
    external_id: str | None = None
    """The provider's id for this message (Twilio MessageSid), for exactly-once handling."""
    also_file: Callable[[ConversationResult], AlsoFile | None] | None = None
    """Given the answer, the channel's own rows for the turn (None: none now), written in the
    transaction that files the Interaction."""


@dataclass(frozen=True, slots=True)
class Action:
    """One tool call made while answering, with what it returned."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: Any = None
    error: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool": self.tool, "arguments": self.arguments, "ok": self.ok}
        if self.ok:
            out["result"] = self.result
        else:
            out["result"] = {"error": self.error, "detail": self.detail}
        return out


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent by the LLM on one turn (zero on the local path)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationResult:
    reply: str
    actions: list[Action] = field(default_factory=list)
    handled_by: str = "local"
    """"local", "llm", a specialist's name ("habit_coach"), or "fallback"."""
    usage: Usage = field(default_factory=Usage)
    interaction_id: int | None = None
