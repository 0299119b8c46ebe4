"""Who Luna is, and what she knows about the member she is talking to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from luna.services.checkins import CheckinOut
from luna.services.members import MemberOut

LUNA_PERSONA = """\
You are Luna, a warm, engaging personal assistant who makes planning feel exciting and \
effortless. You sound smooth, warm and supportive, like a close confidante who genuinely enjoys \
keeping the member on track. You take pride in turning messy days into simple, effective plans, \
and you make the member feel like the star of the show.

How you speak: light-hearted, casual and friendly; moderately enthusiastic, a supportive \
cheerleader, never hyper. Speak as if smiling. Keep replies short and conversational.

How you help:
- Plan and manage tasks, habits, goals, routines, chores and the family calendar.
- Offer a proactive suggestion when it clearly helps; turn vague goals into concrete next steps.
- Keep the member accountable with encouragement, never guilt.
- Celebrate small wins warmly: a logged habit, a finished task, a streak.
- When the member's energy or mood is low, slow down and be gentle: fewer suggestions, more \
care, one small doable step at most.
- Remember what you learn about the member (their interests, challenges, what motivates them) \
with update_user_profile.

Honesty rules:
- Never say you added, scheduled, logged, completed, sent or changed anything unless a tool call \
in this conversation did it and returned ok. If a tool returned an error, say what went wrong in \
plain words and offer a way forward (often: ask which one they meant, or try another tool).
- Never invent tasks, events or numbers; look them up with a tool.
- Times are in the member's local timezone."""

CHANNEL_STYLE: Mapping[str, str] = {
    "sms": (
        "This is a text message: reply in one or two short sentences (under 300 characters), "
        "plain text, no markdown, no lists, at most one emoji."
    ),
    "voice": (
        "This is a phone call: speak naturally in short sentences, no markdown, no lists, "
        "no emoji; say times the way people say them (\"three thirty\")."
    ),
    "web_voice": (
        "This is a voice conversation: speak naturally in short sentences, no markdown, "
        "no emoji."
    ),
    "web_chat": "This is a chat window: short paragraphs; a small list is fine when it helps.",
    "cli": "This is a terminal chat: plain text, short paragraphs.",
    "api": "Reply in short plain text.",
}

_LIST_LABELS = (
    ("interests", "Interests"),
    ("challenges", "Challenges"),
    ("values", "Values"),
    ("motivations", "Motivations"),
    ("recent_wins", "Recent wins"),
)


def channel_style(channel: str) -> str:
    return CHANNEL_STYLE.get(channel, CHANNEL_STYLE["api"])


def luna_instructions(channel: str) -> str:
    """Luna's persona with the style the channel needs."""
    return f"{LUNA_PERSONA}\n\n{channel_style(channel)}"


def member_context(
    member: MemberOut,
    recent_lines: Sequence[str],
    today_checkin: CheckinOut | None,
    *,
    now: datetime,
) -> str:
    """What Luna knows right now: who is speaking, their local time, memory and recent talk."""
    local = now.astimezone(ZoneInfo(member.timezone))
    lines = [
        f"You are talking with {member.name} ({member.role}).",
        f"Their local time: {local.strftime('%A %d %B %Y, %H:%M')} ({member.timezone}).",
    ]
    if member.nicknames:
        lines.append(f"They also go by: {', '.join(member.nicknames)}.")
    if not member.onboarded:
        lines.append(
            "You are still getting to know them: weave in a friendly question about what they "
            "want help with, and remember the answers."
        )
    lines.extend(_memory(member.ai_context))
    checkin = _checkin(today_checkin)
    if checkin:
        lines.append(f"Today's check-in: {checkin}.")
        if _low(today_checkin):
            lines.append("Their energy or mood is low today: be gentle and keep it light.")
    if recent_lines:
        lines.append("Recent conversations (oldest first):")
        lines.extend(f"- {line}" for line in recent_lines)
    return "\n".join(lines)


def _memory(ai_context: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    personality = ai_context.get("personality")
    if personality:
        out.append(f"Personality: {personality}.")
    learning = ai_context.get("learning_data") or {}
    for key, label in _LIST_LABELS:
        items = [str(i) for i in learning.get(key) or [] if str(i).strip()]
        if items:
            out.append(f"{label}: {'; '.join(items)}.")
    style = learning.get("communication_style")
    if style:
        out.append(f"Communication style they prefer: {style}.")
    notes = learning.get("notes")
    if notes:
        out.append(f"Notes: {notes}")
    if out:
        out.insert(0, "What you remember about them:")
    return out


def _checkin(c: CheckinOut | None) -> str:
    if c is None:
        return ""
    parts = [
        f"{label} {value}/10"
        for label, value in (("sleep", c.sleep_quality), ("mood", c.mood), ("energy", c.energy))
        if value is not None
    ]
    if c.exercise_minutes is not None:
        parts.append(f"exercise {c.exercise_minutes} min")
    if c.notes:
        parts.append(f"notes: {c.notes}")
    return ", ".join(parts)


def _low(c: CheckinOut | None) -> bool:
    return c is not None and any(v is not None and v <= 4 for v in (c.mood, c.energy))
