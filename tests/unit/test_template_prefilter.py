"""The template prefilter leaves out only templates that cannot match: hassil finds the same
parses with it as without it."""

from __future__ import annotations

from typing import Any

import pytest
from hassil import Intents, recognize_all, sample_intents
from hassil.expression import Sentence
from hypothesis import given, settings
from hypothesis import strategies as st

from luna.brain.local.lists import ChoreRef, HouseholdLists, MemberRef, TaskRef
from luna.brain.local.prefilter import TemplateIndex, required_fragments, required_lists
from luna.brain.local.recognizer import Recognizer, clean, split_tiers
from luna.brain.local.slots import PrefixSlotList, grams
from tests.brain_family import household_lists, load_cases


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="module")
def lists() -> HouseholdLists:
    return household_lists()


def _parses(text: str, intents: Intents, lists: HouseholdLists) -> list[tuple[Any, ...]]:
    return sorted(
        (r.intent.name, r.intent_sentence.text if r.intent_sentence else "",
         tuple((e.name, str(e.value), e.text, e.is_wildcard) for e in r.entities_list))
        for r in recognize_all(text, intents, slot_lists=lists.slot_lists,
                               intent_context={"speaker": "Maya"})
    )


def _indexes(recognizer: Recognizer) -> list[TemplateIndex]:
    full, metrics = split_tiers(recognizer.intents), split_tiers(recognizer.checkin)
    return [full.plain, full.wild, metrics.plain, metrics.wild]


def _texts(recognizer: Recognizer, lists: HouseholdLists) -> list[str]:
    texts = [clean(case.text) for case in load_cases()]
    texts += [text for _, text in sample_intents(
        recognizer.intents, slot_lists=lists.slot_lists, max_sentences_per_intent=30,
        language="en")]
    # What the normalisation must not trip over: case, hyphens, punctuation, skip words.
    texts += ["TAKE OUT THE TRASH", "i did the x-ray", "Done with call-the-dentist!",
              "please can you mark the dishes done", "Benny's list?", "feed_the_cat done",
              "Ava's done with the laundry.", "mood's a 7/10", "I’ve meditated"]
    return texts


def test_the_prefilter_keeps_every_parse_of_the_labelled_and_sampled_texts(
    recognizer: Recognizer, lists: HouseholdLists
) -> None:
    texts = _texts(recognizer, lists)
    assert len(texts) > 900
    kept = total = 0
    differ = []
    for index in _indexes(recognizer):
        for text in texts:
            chosen = index.candidates(text, lists.slot_lists)
            kept, total = kept + len(chosen), total + len(index)
            if _parses(text, index.reduced(text, lists.slot_lists), lists) != _parses(
                    text, index.intents, lists):
                differ.append(text)
    assert not differ, differ[:5]
    # Not vacuous: most templates are left out of most texts.
    assert kept < 0.1 * total


WORDS = ["i", "did", "the", "dishes", "mood", "7", "take", "out", "trash", "Benny", "Ava's",
         "x-ray", "call", "dentist", "remind", "me", "to", "add", "eggs", "list", "please",
         "what's", "on", "today", "done", "with", "laundry", "feed_the_cat", "journaling"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=7).map(" ".join))
def test_the_prefilter_keeps_every_parse_of_any_text_of_these_words(text: str) -> None:
    recognizer, lists = _shared()
    for index in _indexes(recognizer)[:2]:
        assert _parses(text, index.reduced(text, lists.slot_lists), lists) == _parses(
            text, index.intents, lists), text


_SHARED: list[tuple[Recognizer, HouseholdLists]] = []


def _shared() -> tuple[Recognizer, HouseholdLists]:
    if not _SHARED:
        _SHARED.append((Recognizer(), household_lists()))
    return _SHARED[0]


def test_a_template_of_a_household_list_is_left_out_when_no_value_begins_in_the_text(
    recognizer: Recognizer,
) -> None:
    lists = HouseholdLists.build([MemberRef(1, "Sam")], tasks=[TaskRef(1, "Call the dentist")])
    wild = split_tiers(recognizer.intents).plain

    def intents_of(text: str) -> set[str]:
        chosen = wild.reduced(text, lists.slot_lists)
        return {s.text or "" for i in chosen.intents.values() for d in i.data
                for s in d.sentences}

    assert "{task_done}" not in intents_of("mood 7")
    assert "{task_done}" in intents_of("called the dentist")


def test_a_value_may_begin_anywhere_a_word_of_it_could() -> None:
    tasks = PrefixSlotList.of([("call the dentist", "a"), ("go to the gym", "b")], "task")
    assert tasks.may_begin_in(grams("remind me to CALL".casefold()))
    assert tasks.may_begin_in(grams("i'll go"))  # a first word shorter than three letters
    assert tasks.may_begin_in(grams("recall"))  # inside a word: a template may join them
    assert not tasks.may_begin_in(grams("mood 7"))
    xray = PrefixSlotList.of([("ray scan", "c")], "task")
    assert xray.may_begin_in(grams("x-ray"))  # the matcher reads "-" as a space too
    # A value whose case folding changes its length is always possible (as hassil's index).
    assert PrefixSlotList.of([("Straße fegen", "d")], "chore").may_begin_in(grams("mood 7"))
    assert not PrefixSlotList.of([], "chore").may_begin_in(grams("mood 7"))


def _sentence(template: str, rules: dict[str, str] | None = None) -> tuple[
    Sentence, dict[str, Sentence]
]:
    intents = Intents.from_dict({
        "language": "en",
        "intents": {"X": {"data": [{"sentences": [template]}]}},
        "expansion_rules": rules or {},
    })
    return intents.intents["X"].data[0].sentences[0], intents.expansion_rules


@pytest.mark.parametrize(("template", "rules", "want"), [
    ("{task_done}", None, {frozenset({"task_done"})}),
    ("[{member}] did {chore_done}", None, {frozenset({"chore_done"})}),
    ("({chore_done}|{task_done}) now", None, {frozenset({"chore_done", "task_done"})}),
    ("({chore_done}|the dishes) now", None, set()),  # one branch needs no list
    ("<who> did it", {"who": "{member}"}, {frozenset({"member"})}),
    ("{member} and {goal}", None, {frozenset({"member"}), frozenset({"goal"})}),
    ("{rest} done", None, set()),  # not a household list
])
def test_required_lists_are_those_every_match_consumes(
    template: str, rules: dict[str, str] | None, want: set[frozenset[str]]
) -> None:
    sentence, expansion = _sentence(template, rules)
    names = frozenset({"member", "chore_done", "task_done", "goal"})
    assert required_lists(sentence.expression, expansion, names) == want


@pytest.mark.parametrize(("template", "rules", "want"), [
    ("remind me to {rest}", None, {frozenset({"remind"}), frozenset({"me"}), frozenset({"to"})}),
    # Of each branch its most telling clause: "anything", not "is".
    ("(any|is anything|what's) {rest}", None, {frozenset({"any", "anything", "what's"})}),
    ("[please] add {rest}", None, {frozenset({"add"})}),  # an optional part requires nothing
    ("(add|{rest}) now", None, {frozenset({"now"})}),  # a branch without a word: no clause
    ("goal[:] {rest}", None, {frozenset({"goal"})}),
    ("new goal: {rest}", None, {frozenset({"new"})}),  # the text may lose the ":" of "goal:"
    ("<who> Did it", {"who": "(Sam|Max)"}, {frozenset({"sam", "max"}), frozenset({"did"}),
                                            frozenset({"it"})}),
])
def test_required_fragments_are_words_every_match_finds_in_the_text(
    template: str, rules: dict[str, str] | None, want: set[frozenset[str]]
) -> None:
    sentence, expansion = _sentence(template, rules)
    assert required_fragments(sentence.expression, expansion) == want


def test_a_grammar_that_ignores_whitespace_is_refused() -> None:
    intents = Intents.from_dict({"language": "zh", "settings": {"ignore_whitespace": True},
                                 "intents": {"X": {"data": [{"sentences": ["开灯"]}]}}})
    with pytest.raises(ValueError):
        TemplateIndex(intents)


def test_a_chore_list_without_the_word_keeps_its_templates_out_of_a_check_in(
    recognizer: Recognizer,
) -> None:
    lists = HouseholdLists.build([MemberRef(1, "Sam")], chores=[ChoreRef(1, "Do the dishes")])
    plain = split_tiers(recognizer.intents).plain
    kept = plain.reduced("slept 7 hours", lists.slot_lists)
    assert "CompleteChore" not in kept.intents
    assert "CompleteChore" in plain.reduced("did the dishes", lists.slot_lists).intents
