"""A call's transcript and its bill, kept as the call goes. Pure: no I/O.

Assistant turns are cut to what the caller actually heard: when Luna was interrupted the
transcript keeps the share of the text that matches the share of the audio played.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from luna.config import Prices

Role = Literal["user", "assistant"]


@dataclass(slots=True)
class Turn:
    role: Role
    item_id: str
    text: str = ""
    agent: str | None = None
    audio_ms: float = 0.0
    """Assistant audio generated for this item (all of it, heard or not)."""
    heard_ms: float | None = None
    """Set when the caller heard only part of the item (barge-in or hang-up)."""

    def heard_text(self) -> str:
        if self.role == "user" or self.heard_ms is None or self.audio_ms <= 0:
            return self.text
        return cut_text(self.text, self.heard_ms / self.audio_ms)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "text": self.heard_text()}
        if self.agent:
            out["agent"] = self.agent
        if self.role == "assistant" and self.heard_ms is not None:
            out["interrupted"] = True
            out["heard_ms"] = int(self.heard_ms)
        return out


def cut_text(text: str, ratio: float) -> str:
    """The first `ratio` of `text`, ending on a whole word."""
    if ratio >= 1:
        return text
    if ratio <= 0:
        return ""
    cut = int(len(text) * ratio)
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace() and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:-")


@dataclass(slots=True)
class Tally:
    """Tokens (and transcription seconds) summed over a call."""

    text_in: int = 0
    audio_in: int = 0
    cached_text_in: int = 0
    cached_audio_in: int = 0
    text_out: int = 0
    audio_out: int = 0
    transcribe_in: int = 0
    transcribe_out: int = 0
    transcribe_seconds: float = 0.0
    responses: int = 0

    def add_response(self, usage: Mapping[str, Any] | None) -> None:
        self.responses += 1
        if not usage:
            return
        ind = usage.get("input_token_details") or {}
        cached = ind.get("cached_tokens_details") or {}
        outd = usage.get("output_token_details") or {}
        self.text_in += int(ind.get("text_tokens") or 0)
        self.audio_in += int(ind.get("audio_tokens") or 0)
        self.cached_text_in += int(cached.get("text_tokens") or 0)
        self.cached_audio_in += int(cached.get("audio_tokens") or 0)
        self.text_out += int(outd.get("text_tokens") or 0)
        self.audio_out += int(outd.get("audio_tokens") or 0)

    def add_transcription(self, usage: Mapping[str, Any] | None) -> None:
        if not usage:
            return
        if usage.get("type") == "duration":
            self.transcribe_seconds += float(usage.get("seconds") or 0)
        else:
            self.transcribe_in += int(usage.get("input_tokens") or 0)
            self.transcribe_out += int(usage.get("output_tokens") or 0)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


UsageItem = tuple[str, float, str, float]


def usage_items(t: Tally, prices: Prices, call_seconds: float) -> list[UsageItem]:
    """UsageRecord rows: (kind, quantity, unit, cost_usd).

    Cached tokens are a subset of the input tokens, billed at the cached rate instead of the
    full one, never both (the double count PageSpace PR #2391 fixed).
    """
    per = 1_000_000
    p = prices
    rows: list[UsageItem] = []

    def add(kind: str, qty: float, unit: str, cost: float) -> None:
        if qty:
            rows.append((kind, qty, unit, round(cost, 8)))

    add("realtime_text_input", t.text_in - t.cached_text_in, "tokens",
        (t.text_in - t.cached_text_in) * p.realtime_text_input_per_mtok / per)
    add("realtime_audio_input", t.audio_in - t.cached_audio_in, "tokens",
        (t.audio_in - t.cached_audio_in) * p.realtime_audio_input_per_mtok / per)
    add("realtime_cached_text_input", t.cached_text_in, "tokens",
        t.cached_text_in * p.realtime_cached_input_per_mtok / per)
    add("realtime_cached_audio_input", t.cached_audio_in, "tokens",
        t.cached_audio_in * p.realtime_cached_audio_input_per_mtok / per)
    add("realtime_text_output", t.text_out, "tokens",
        t.text_out * p.realtime_text_output_per_mtok / per)
    add("realtime_audio_output", t.audio_out, "tokens",
        t.audio_out * p.realtime_audio_output_per_mtok / per)
    add("transcription_input", t.transcribe_in, "tokens",
        t.transcribe_in * p.transcription_input_per_mtok / per)
    add("transcription_output", t.transcribe_out, "tokens",
        t.transcribe_out * p.transcription_output_per_mtok / per)
    add("transcription", t.transcribe_seconds / 60, "minutes",
        t.transcribe_seconds / 60 * p.transcription_per_minute)
    add("call_minutes", call_seconds / 60, "minutes", call_seconds / 60 * p.call_minute)
    return rows


@dataclass(slots=True)
class CallLog:
    """Turns in conversation order, looked up by item id as their text arrives."""

    turns: list[Turn] = field(default_factory=list)
    by_item: dict[str, Turn] = field(default_factory=dict)

    def turn(self, role: Role, item_id: str, agent: str | None = None) -> Turn:
        t = self.by_item.get(item_id)
        if t is None:
            t = self.by_item[item_id] = Turn(role, item_id, agent=agent)
            self.turns.append(t)
        return t

    def spoken(self) -> list[Turn]:
        return [t for t in self.turns if t.heard_text().strip()]

    def as_list(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in self.spoken()]

    def joined(self, role: Role) -> str:
        return "\n".join(t.heard_text() for t in self.spoken() if t.role == role)
