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

from collections.abc import Iterator, Mapping
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
)
from hassil.intents import Intent, IntentData
from hassil.util import fold_case, normalize_for_matching

from luna.brain.local.slots import PrefixSlotList, grams

MAX_DEPTH = 50
REDUCED_CACHE = 256
"""Distinct template sets kept as ready `Intents`; a household sends few kinds of text."""


def with_sentences(data: IntentData, sentences: list[Sentence]) -> IntentData:
    """`data` with only `sentences`, the parsed templates themselves (not parsed again)."""
    part = replace(data, sentence_texts=[s.text or "" for s in sentences])
    part.__dict__["sentences"] = sentences
    return part


def required_lists(
    exp: Expression, rules: Mapping[str, Sentence], names: frozenset[str], depth: int = 0
) -> set[frozenset[str]]:
    """The lists among `names` a match must consume text from, in conjunctive normal form: one
    list of every clause at least (hassil's `_required_clauses`, for lists)."""
    if depth > MAX_DEPTH:
        return set()
    if isinstance(exp, ListReference):
        return {frozenset((exp.list_name,))} if exp.list_name in names else set()
    if isinstance(exp, Alternative):
        if exp.is_optional or not exp.items:
            return set()
        branches = [required_lists(item, rules, names, depth + 1) for item in exp.items]
        if any(not branch for branch in branches):
            return set()
        # One branch matches, so one list of its smallest clause is there.
        return {frozenset().union(*(min(branch, key=len) for branch in branches))}
    if isinstance(exp, Group):  # a sequence or a permutation: every item matches
        clauses: set[frozenset[str]] = set()
        for item in exp.items:
            clauses |= required_lists(item, rules, names, depth + 1)
        return clauses
    if isinstance(exp, RuleReference):
        rule = rules.get(exp.rule_name)
        return set() if rule is None else required_lists(rule.expression, rules, names, depth + 1)
    return set()


@dataclass(frozen=True, slots=True)
class _Template:
    intent: str
    data: int
    """The index of its block in the intent's data."""
    sentence: Sentence
    keywords: frozenset[str] | None
    """Its block's required keywords: one of them is a word of the text."""
    fragments: tuple[frozenset[str], ...]
    """hassil's required literal fragments: one of each clause is in the text."""
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
                    fragments = sorted(sentence.get_required_clauses(rules), key=len)
                    lists = required_lists(sentence.expression, rules, own)
                    at = len(self._templates)
                    self._templates.append(_Template(
                        intent.name, d, sentence, keywords, tuple(fragments[1:]), tuple(lists)))
                    if fragments:
                        # Its smallest clause is its anchor: the template is looked at only
                        # when one of these is in the text.
                        for fragment in fragments[0]:
                            self._by_fragment.setdefault(fragment, []).append(at)
                    else:
                        self._unanchored.append(at)
        self._fragments = tuple(self._by_fragment)
        self._intents_of = lru_cache(maxsize=REDUCED_CACHE)(self._build)

    def __len__(self) -> int:
        return len(self._templates)

    def candidates(self, text: str, slot_lists: Mapping[str, SlotList]) -> tuple[int, ...]:
        """The templates (by position) `text` could match, in the grammar's order."""
        hay = fold_case(normalize_for_matching(text).text)
        present = {f for f in self._fragments if f in hay}
        found = set(self._unanchored)
        for fragment in present:
            found.update(self._by_fragment[fragment])
        words = frozenset(hay.split())
        starts: frozenset[str] | None = None
        listed: dict[str, bool] = {}
        chosen: list[int] = []
        for at in sorted(found):
            t = self._templates[at]
            if t.keywords is not None and t.keywords.isdisjoint(words):
                continue
            if not all(any(f in hay for f in clause) for clause in t.fragments):
                continue
            if t.lists:
                if starts is None:
                    starts = grams(hay)
                if not all(any(_may_occur(name, slot_lists, starts, listed) for name in clause)
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
