"""Which templates a text could match at all, decided before hassil is asked.

hassil already skips a template whose literal words are missing from the text, but it decides
that anew for every template on every call, builds the match settings of every intent first,
and always tries the few templates that begin with a household list ("{task_done}",
"{member} did {chore_done}"). Together that was most of a recognition's cost for a short
text. Here the same fragments are looked up in one index, a household list counts as missing
when none of its values can begin anywhere in the text, and hassil gets only the templates
left, as an `Intents` cached per set of them.

The test is conservative, as hassil's own: a template is left out only when it provably
cannot match, so recognition returns exactly what it would have without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from hassil import Intents, SlotList
from hassil.expression import (
    Alternative,
    Expression,
    Group,
    ListReference,
    RuleReference,
    Sentence,
    TextChunk,
)
from hassil.intents import Intent, IntentData
from hassil.util import PUNCTUATION_STR, fold_case, normalize_for_matching

from luna.brain.local.slots import START, PrefixSlotList, grams

MAX_DEPTH = 24
"""Rules that refer to each other are followed no deeper (as hassil's own prefilter)."""
_PUNCTUATION = frozenset(PUNCTUATION_STR)
REDUCED_CACHE = 256
"""Distinct template sets kept as ready `Intents`; a household sends few kinds of text."""


def with_sentences(data: IntentData, sentences: list[Sentence]) -> IntentData:
    """`data` with only `sentences`, the parsed templates themselves (not parsed again)."""
    part = replace(data, sentence_texts=[s.text or "" for s in sentences])
    part.__dict__["sentences"] = sentences
    return part


Clauses = set[frozenset[str]]
"""Conjunctive normal form: a match has one item of every clause."""


def required_fragments(exp: Expression, rules: Mapping[str, Sentence]) -> Clauses:
    """The literal pieces a match must find in the text, as hassil's own prefilter reckons
    them (split at whitespace, pieces with punctuation the text may lose left out, case
    folded), with the most telling clause chosen from each alternative."""
    return _required(exp, rules, _text_clauses, 0)


def required_lists(exp: Expression, rules: Mapping[str, Sentence], names: frozenset[str]) -> (
    Clauses
):
    """The lists among `names` a match must consume text from."""
    def leaf(e: Expression) -> Clauses:
        if isinstance(e, ListReference) and e.list_name in names:
            return {frozenset((e.list_name,))}
        return set()
    return _required(exp, rules, leaf, 0)


def _text_clauses(exp: Expression) -> Clauses:
    if not isinstance(exp, TextChunk):
        return set()
    return {frozenset((fold_case(piece),)) for piece in exp.text.split()
            if _PUNCTUATION.isdisjoint(piece)}


def _required(
    exp: Expression, rules: Mapping[str, Sentence], leaf: Callable[[Expression], Clauses],
    depth: int,
) -> Clauses:
    if depth > MAX_DEPTH:
        return set()
    if isinstance(exp, Alternative):
        if exp.is_optional or not exp.items:
            return set()  # [optional] is (optional|), which requires nothing
        branches = [_required(item, rules, leaf, depth + 1) for item in exp.items]
        if any(not branch for branch in branches):
            return set()
        # One branch matches, so an item of one of its clauses is there: of each branch the
        # clause of the longest items, the rarest in a text ("anything" rather than "is").
        return {frozenset().union(*(max(branch, key=_telling) for branch in branches))}
    if isinstance(exp, Group):  # a sequence or a permutation: every item matches
        clauses: Clauses = set()
        for item in exp.items:
            clauses |= _required(item, rules, leaf, depth + 1)
        return clauses
    if isinstance(exp, RuleReference):
        rule = rules.get(exp.rule_name)
        return set() if rule is None else _required(rule.expression, rules, leaf, depth + 1)
    return leaf(exp)


def _telling(clause: frozenset[str]) -> tuple[int, int, tuple[str, ...]]:
    return min(map(len, clause)), -len(clause), tuple(sorted(clause))


@dataclass(frozen=True, slots=True)
class _Template:
    intent: str
    data: int
    """The index of its block in the intent's data."""
    sentence: Sentence
    keywords: frozenset[str] | None
    """Its block's required keywords: one of them is a word of the text."""
    fragments: tuple[frozenset[str], ...]
    """hassil's required literal fragments: one of each clause is in the text (the anchor's
    too: the index only narrows which templates are looked at)."""
    lists: tuple[frozenset[str], ...]
    """Required household lists, one of each clause."""


class TemplateIndex:
    """One grammar's templates, indexed by a fragment each must find in the text."""

    def __init__(self, intents: Intents) -> None:
        if intents.settings.ignore_whitespace:
            # Dropping skip words could then join two words into a fragment (hassil's note).
            raise ValueError("the prefilter is for grammars that keep whitespace")
        self.intents = intents
        # The lists the grammar does not define itself are the household's, given per call.
        names = frozenset(_list_names(intents)) - set(intents.slot_lists)
        self._templates: list[_Template] = []
        self._by_fragment: dict[str, list[int]] = {}
        self._unanchored: list[int] = []
        for intent in intents.intents.values():
            for d, data in enumerate(intent.data):
                rules = {**intents.expansion_rules, **data.expansion_rules}
                # A block's own lists or wildcards of the same name are not the household's.
                own = names - set(data.slot_lists) - set(data.wildcard_list_names)
                keywords = (frozenset(fold_case(k) for k in data.required_keywords)
                            if data.required_keywords else None)
                for sentence in data.sentences:
                    clauses = required_fragments(sentence.expression, rules)
                    lists = required_lists(sentence.expression, rules, own)
                    at = len(self._templates)
                    self._templates.append(_Template(
                        intent.name, d, sentence, keywords, tuple(clauses), tuple(lists)))
                    if clauses:
                        # The template is looked at only when a fragment of its anchor is in
                        # the text: the clause of the longest words ("remind", not "me").
                        anchor = max(clauses, key=_telling)
                        for fragment in anchor:
                            self._by_fragment.setdefault(fragment, []).append(at)
                    else:
                        self._unanchored.append(at)
        every = {f for t in self._templates for clause in t.fragments for f in clause}
        self._fragments = frozenset(every)
        self._longest = max([START, *map(len, every)])
        self._intents_of = lru_cache(maxsize=REDUCED_CACHE)(self._build)

    def __len__(self) -> int:
        return len(self._templates)

    def candidates(self, text: str, slot_lists: Mapping[str, SlotList]) -> tuple[int, ...]:
        """The templates (by position) `text` could match, in the grammar's order."""
        hay = matched_text(text)
        # A fragment has no whitespace: it is in the text when it is a piece of one word.
        pieces = grams(hay, self._longest)
        present = self._fragments & pieces
        found = set(self._unanchored)
        for fragment in present:
            found.update(self._by_fragment.get(fragment, ()))
        words = frozenset(hay.split())
        listed: dict[str, bool] = {}
        chosen: list[int] = []
        for at in sorted(found):
            t = self._templates[at]
            if t.keywords is not None and t.keywords.isdisjoint(words):
                continue
            if not all(not clause.isdisjoint(present) for clause in t.fragments):
                continue
            if t.lists and not all(
                    any(_may_occur(name, slot_lists, pieces, listed) for name in clause)
                    for clause in t.lists):
                continue
            chosen.append(at)
        return tuple(chosen)

    def reduced(self, text: str, slot_lists: Mapping[str, SlotList]) -> Intents:
        """The grammar with only the templates `text` could match."""
        return self._intents_of(self.candidates(text, slot_lists))

    def _build(self, chosen: tuple[int, ...]) -> Intents:
        blocks: dict[str, dict[int, list[Sentence]]] = {}
        for at in chosen:
            t = self._templates[at]
            blocks.setdefault(t.intent, {}).setdefault(t.data, []).append(t.sentence)
        intents: dict[str, Intent] = {}
        for name, by_data in blocks.items():
            whole = self.intents.intents[name]
            intents[name] = Intent(name, [with_sentences(whole.data[d], sentences)
                                          for d, sentences in by_data.items()])
        return replace(self.intents, intents=intents)


@lru_cache(maxsize=16)
def matched_text(text: str) -> str:
    """The text as hassil matches it (normalised, case-folded); both tiers ask for it."""
    return fold_case(normalize_for_matching(text).text)


def _list_names(intents: Intents) -> Iterator[str]:
    rules = list(intents.expansion_rules.values())
    for intent in intents.intents.values():
        for data in intent.data:
            rules += data.expansion_rules.values()
            for sentence in data.sentences:
                yield from _names_in(sentence.expression)
    for rule in rules:
        yield from _names_in(rule.expression)


def _names_in(exp: Expression) -> Iterator[str]:
    if isinstance(exp, ListReference):
        yield exp.list_name
    elif isinstance(exp, Group):
        for item in exp.items:
            yield from _names_in(item)


def _may_occur(
    name: str, slot_lists: Mapping[str, SlotList], starts: frozenset[str],
    memo: dict[str, bool],
) -> bool:
    known = memo.get(name)
    if known is None:
        values = slot_lists.get(name)
        # Only the household's own lists are indexed; any other list may match anything.
        known = values.may_begin_in(starts) if isinstance(values, PrefixSlotList) else True
        memo[name] = known
    return known
