"""Phone calls without OpenAI Realtime: Twilio listens (<Gather input="speech">), converse()
answers, Twilio speaks (<Say>). Used when no key is set, when the Realtime socket cannot be
opened, and for a live call moved here after the Realtime path failed mid-call.

State that must survive between turns (who, which purpose, how many silences) rides in the
action URL's query, which Twilio signs along with the rest.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

import structlog
from twilio.twiml.voice_response import VoiceResponse

from luna.brain.types import ConversationInput, ConversationResult
from luna.config import Settings
from luna.services.members import MemberOut
from luna.voice.calls import PURPOSES, webhook_url

log = structlog.get_logger(__name__)

Converse = Callable[[ConversationInput], Awaitable[ConversationResult]]

MAX_SILENCES = 2
_GOODBYE = re.compile(
    r"^\W*(ok(ay)?\W+)?(good ?bye|bye( bye)?|that'?s all|that is all|hang up|talk (to you )?later)"
    r"(\W+(luna|thanks?|thank you))*\W*$",
    re.IGNORECASE,
)


def greeting(member: MemberOut, direction: str, purpose: str | None) -> str:
    if direction == "outbound" and purpose:
        what = PURPOSES.get(purpose, "a chat")
        return f"Hi {member.name}, it's Luna, calling for {what}. How are you doing?"
    return f"Hi {member.name}, it's Luna. What can I do for you?"


def gather_twiml(settings: Settings, say: str, query: Mapping[str, str]) -> str:
    r = VoiceResponse()
    g = r.gather(
        input="speech", action=webhook_url(settings, "gather", **query), method="POST",
        speech_timeout="auto", action_on_empty_result=True, language="en-US",
    )
    g.say(say)
    # Reached only if Twilio cannot call the action; end cleanly rather than in silence.
    r.say("Sorry, I lost the line. Talk soon.")
    r.hangup()
    return str(r.to_xml())


def say_and_hang_up(text: str) -> str:
    r = VoiceResponse()
    r.say(text)
    r.hangup()
    return str(r.to_xml())


def is_goodbye(text: str) -> bool:
    return bool(_GOODBYE.match(text.strip()))


class GatherFlow:
    def __init__(self, settings: Settings, converse: Converse) -> None:
        self.settings = settings
        self.converse = converse

    def start(self, member: MemberOut, direction: str, purpose: str | None,
              *, resumed: bool = False) -> str:
        say = ("Sorry about that, I had a little hiccup. I'm still here. What were you saying?"
               if resumed else greeting(member, direction, purpose))
        return gather_twiml(self.settings, say, _query(member, direction, purpose, 0))

    async def turn(self, member: MemberOut, query: Mapping[str, str], speech: str,
                   call_sid: str) -> str:
        """One caller utterance (Twilio's SpeechResult) to the next TwiML."""
        direction = query.get("direction", "inbound")
        purpose = query.get("purpose") or None
        text = speech.strip()
        if not text:
            silences = int(query.get("silence", "0") or 0) + 1
            if silences > MAX_SILENCES:
                return say_and_hang_up(f"I'll let you go, {member.name}. Talk soon!")
            return gather_twiml(self.settings, "Are you still there?",
                                _query(member, direction, purpose, silences))
        if is_goodbye(text):
            return say_and_hang_up(f"Talk soon, {member.name}. Bye!")
        result = await self.converse(ConversationInput(member=member, channel="voice", text=text))
        log.info("gather_turn", call_sid=call_sid, handled_by=result.handled_by)
        return gather_twiml(self.settings, result.reply or "Okay.",
                            _query(member, direction, purpose, 0))


def _query(member: MemberOut, direction: str, purpose: str | None, silence: int) -> dict[str, str]:
    q = {"member": str(member.id), "direction": direction}
    if purpose:
        q["purpose"] = purpose
    if silence:
        q["silence"] = str(silence)
    return q
