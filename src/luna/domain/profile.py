"""What Luna has learned about a member (``ai_context``), and how new learnings merge into it.

Learnings arrive piecemeal from the model, often repeating or re-casing what is already known,
and sometimes with empty fields. The merge is therefore additive: lists grow without duplicates,
text is replaced only by real text, and nothing is ever erased by a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LEARNING_LIST_KEYS = ("interests", "challenges", "values", "motivations", "recent_wins")
LEARNING_TEXT_KEYS = ("communication_style", "notes")

_RECENT_WINS_CAP = 20
"""Wins are for encouragement, so only the latest matter; older ones would bloat the prompt."""


def empty_ai_context() -> dict[str, Any]:
    """A fresh, fully shaped context with nothing learned yet."""
    learning: dict[str, Any] = {key: [] for key in LEARNING_LIST_KEYS}
    learning.update(dict.fromkeys(LEARNING_TEXT_KEYS))
    ordered = (
        "interests",
        "challenges",
        "values",
        "motivations",
        "communication_style",
        "recent_wins",
        "notes",
    )
    return {"personality": None, "learning_data": {key: learning[key] for key in ordered}}


def merge_ai_context(
    existing: Mapping[str, Any] | None, update: Mapping[str, Any]
) -> dict[str, Any]:
    """Deep-merge ``update`` into ``existing`` and return a new dict; neither input is modified.

    Starts from the empty shape so that a partial or legacy stored context comes back complete.
    """
    merged = _merge_dict(empty_ai_context(), existing or {})
    return _merge_dict(merged, update)


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (what a profile is made of), far cheaper than deepcopy."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def _merge_dict(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    result = {key: _copy(value) for key, value in old.items()}
    for key, value in new.items():
        result[key] = _merge_value(key, result.get(key), value)
    return result


def _merge_value(key: str, old: Any, new: Any) -> Any:
    if new is None:
        return old
    if isinstance(new, Mapping):
        return _merge_dict(old, new) if isinstance(old, Mapping) else _merge_dict({}, new)
    if key in LEARNING_LIST_KEYS or isinstance(old, list) or isinstance(new, list):
        items = _union(_as_list(old), _as_list(new))
        return items[-_RECENT_WINS_CAP:] if key == "recent_wins" else items
    if isinstance(new, str):
        text = new.strip()
        if not text:
            return old
        if key == "notes" and isinstance(old, str) and old.strip():
            # Notes accumulate; a note already recorded is not repeated.
            known = {line.strip().casefold() for line in old.splitlines()}
            return old if text.casefold() in known else f"{old}\n{text}"
        return text
    return _copy(new)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    # The model sometimes sends one interest as a bare string instead of a list.
    return list(value) if isinstance(value, list | tuple) else [value]


def _union(old: list[Any], new: list[Any]) -> list[Any]:
    seen: set[str] = set()
    items: list[Any] = []
    for item in [*old, *new]:
        if item is None:
            continue
        if isinstance(item, str):
            item = item.strip()
            if not item:
                continue
            identity = "s:" + item.casefold()
        else:
            identity = "r:" + repr(item)
        if identity not in seen:
            seen.add(identity)
            items.append(_copy(item))
    return items
