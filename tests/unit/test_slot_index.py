"""The household's slot lists offer hassil's matcher exactly the candidates hassil's own would."""

from __future__ import annotations

from hassil.intents import TextSlotList
from hypothesis import given, settings
from hypothesis import strategies as st

from luna.brain.local.slots import PrefixSlotList

WORDS = ["the", "dishes", "take", "out", "trash", "Ava's", "laundry", "call", "mom", "ß", "x-ray",
         "re_do", "  ", "Straße", "İstanbul", "ﬁle"]
phrases = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)


def _same(pairs: list[tuple[str, str]], text: str) -> None:
    ours = PrefixSlotList.of(pairs, "thing").get_candidates(text)
    theirs = TextSlotList.from_tuples(pairs, allow_template=False, name="thing").get_candidates(
        text
    )
    assert sorted((v.text_in.text, v.value_out) for v in ours) == sorted(
        (v.text_in.text, v.value_out) for v in theirs
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(phrases, st.sampled_from(["a", "b", "c"])), max_size=12), phrases)
def test_candidates_match_hassils_trie_for_any_values_and_text(
    pairs: list[tuple[str, str]], text: str
) -> None:
    _same(pairs, text)


def test_a_value_is_offered_when_the_text_starts_with_it_in_any_case() -> None:
    slots = PrefixSlotList.of([("take out the trash", "Trash"), ("take", "Take")], "chore")
    got = [v.value_out for v in slots.get_candidates("TAKE OUT THE TRASH please")]
    assert got == ["Take", "Trash"]
    assert slots.get_candidates("the trash") == []


def test_hyphenated_text_also_offers_the_spaced_value() -> None:
    slots = PrefixSlotList.of([("x ray", "X-ray")], "task")
    assert [v.value_out for v in slots.get_candidates("x-ray tomorrow")] == ["X-ray"]
