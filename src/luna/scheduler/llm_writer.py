"""Morning briefings written by the LLM from the template's facts (opt-in, within a cost cap)."""

from __future__ import annotations

from luna.brain.llm import ChatModel, OpenAIChatModel
from luna.config import Prices, Settings
from luna.services.members import MemberOut

SYSTEM = (
    "You are Luna, a warm family assistant, writing one morning text message to {name}. "
    "Rewrite the facts below as a friendly SMS of at most 480 characters. Keep every task, "
    "chore, event and time exactly as given; invent nothing; no markdown."
)


class LlmBriefingWriter:
    def __init__(self, model: ChatModel, prices: Prices) -> None:
        self.model = model
        self.prices = prices

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmBriefingWriter:
        return cls(OpenAIChatModel.from_settings(settings), settings.prices)

    async def write(self, member: MemberOut, facts: str) -> tuple[str, float]:
        reply = await self.model.complete(
            [{"role": "system", "content": SYSTEM.format(name=member.name)},
             {"role": "user", "content": facts}],
            [],
        )
        u = reply.usage
        cost = (u.input_tokens * self.prices.chat_input_per_mtok
                + u.output_tokens * self.prices.chat_output_per_mtok) / 1_000_000
        return (reply.text or "").strip(), cost
