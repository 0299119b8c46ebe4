import copy
from typing import Any

from luna.domain.profile import (
    LEARNING_LIST_KEYS,
    LEARNING_TEXT_KEYS,
    empty_ai_context,
    merge_ai_context,
)


def test_empty_ai_context_has_the_full_shape() -> None:
    assert empty_ai_context() == {
        "personality": None,
        "learning_data": {
            "interests": [],
            "challenges": [],
            "values": [],
            "motivations": [],
            "communication_style": None,
            "recent_wins": [],
            "notes": None,
        },
    }
    assert set(empty_ai_context()["learning_data"]) == {*LEARNING_LIST_KEYS, *LEARNING_TEXT_KEYS}


def test_empty_ai_context_returns_independent_copies() -> None:
    first = empty_ai_context()
    first["learning_data"]["interests"].append("chess")
    assert empty_ai_context()["learning_data"]["interests"] == []


def test_merge_unions_lists_case_insensitively_trimmed_old_first() -> None:
    old = {"learning_data": {"interests": ["Hiking", "chess"]}}
    new = {"learning_data": {"interests": [" hiking ", "Jazz", "CHESS", "jazz"]}}
    merged = merge_ai_context(old, new)
    assert merged["learning_data"]["interests"] == ["Hiking", "chess", "Jazz"]


def test_merge_accepts_a_bare_string_for_a_list_key() -> None:
    merged = merge_ai_context(None, {"learning_data": {"values": "family"}})
    assert merged["learning_data"]["values"] == ["family"]


def test_merge_caps_recent_wins_to_the_last_twenty() -> None:
    old = {"learning_data": {"recent_wins": [f"win {i}" for i in range(15)]}}
    new = {"learning_data": {"recent_wins": [f"win {i}" for i in range(15, 30)]}}
    wins = merge_ai_context(old, new)["learning_data"]["recent_wins"]
    assert wins == [f"win {i}" for i in range(10, 30)]


def test_merge_replaces_text_only_with_non_empty_strings() -> None:
    old = {"learning_data": {"communication_style": "brief"}}
    assert (
        merge_ai_context(old, {"learning_data": {"communication_style": "playful"}})[
            "learning_data"
        ]["communication_style"]
        == "playful"
    )
    kept = merge_ai_context(old, {"learning_data": {"communication_style": "   "}})
    assert kept["learning_data"]["communication_style"] == "brief"


def test_merge_appends_notes_with_a_newline_when_both_exist_and_differ() -> None:
    old = {"learning_data": {"notes": "Has a dog named Rex."}}
    merged = merge_ai_context(old, {"learning_data": {"notes": "Works night shifts."}})
    assert merged["learning_data"]["notes"] == "Has a dog named Rex.\nWorks night shifts."
    again = merge_ai_context(merged, {"learning_data": {"notes": "works night shifts."}})
    assert again["learning_data"]["notes"] == merged["learning_data"]["notes"]


def test_merge_never_erases_with_none() -> None:
    old = {"personality": "warm", "learning_data": {"interests": ["chess"], "notes": "x"}}
    merged = merge_ai_context(
        old, {"personality": None, "learning_data": {"interests": None, "notes": None}}
    )
    assert merged["personality"] == "warm"
    assert merged["learning_data"]["interests"] == ["chess"]
    assert merged["learning_data"]["notes"] == "x"


def test_merge_keeps_and_merges_unknown_keys_generically() -> None:
    old = {"custom": {"a": 1, "tags": ["x"]}, "other": "keep"}
    merged = merge_ai_context(old, {"custom": {"b": 2, "tags": ["X", "y"]}})
    assert merged["custom"] == {"a": 1, "b": 2, "tags": ["x", "y"]}
    assert merged["other"] == "keep"


def test_merge_fills_in_the_shape_for_a_partial_stored_context() -> None:
    merged = merge_ai_context({"personality": "calm"}, {})
    assert merged["learning_data"] == empty_ai_context()["learning_data"]
    assert merged["personality"] == "calm"


def test_merge_leaves_its_inputs_untouched_and_shares_no_lists() -> None:
    old: dict[str, Any] = {"learning_data": {"interests": ["chess"]}}
    new: dict[str, Any] = {"learning_data": {"challenges": ["sleep"]}, "extra": {"k": [1]}}
    old_copy, new_copy = copy.deepcopy(old), copy.deepcopy(new)
    merged = merge_ai_context(old, new)
    merged["learning_data"]["interests"].append("go")
    merged["extra"]["k"].append(2)
    assert old == old_copy
    assert new == new_copy
