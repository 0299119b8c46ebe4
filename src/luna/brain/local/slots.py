"""A household's names as hassil slot lists, indexed without a trie.

hassil indexes a text slot list in a character trie: one node and one dict per character of
every value. The household lists are rebuilt after writes and cached per member, so those
tries became most of the process's long-lived objects, and every full garbage collection
walked them (100-300 ms pauses). This index keeps one dict entry per distinct value and
answers the same question: which values are a prefix of the text at the matcher's position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hassil.expression import TextChunk
from hassil.intents import TextSlotList, TextSlotValue
from hassil.util import fold_case, normalize_text

_BREAK_WORDS = str.maketrans("-_", "  ")


@lru_cache(maxsize=1 << 16)
def _normalized(text: str) -> str:
    # Most of a list's rebuild after a write was hassil normalising the same aliases again;
    # strings are not tracked by the garbage collector, so keeping them costs it nothing.
    return normalize_text(text)


START = 3
"""Letters of a value's first word that `may_begin_in` looks for."""


def grams(folded: str, longest: int = START) -> frozenset[str]:
    """Every piece of one to `longest` letters within a word of the (case-folded) text. The
    matcher's retry with "-" and "_" read as spaces only splits words, so it adds none."""
    return frozenset().union(*(_pieces(word, longest) for word in folded.split()))


@lru_cache(maxsize=1 << 12)
def _pieces(word: str, longest: int) -> frozenset[str]:
    # Texts share most of their words, so a word is cut into pieces once.
    n = len(word)
    return frozenset(word[i:j] for i in range(n) for j in range(i + 1, min(n, i + longest) + 1))


def _start(key: str) -> str:
    return key.split(maxsplit=1)[0][:START]


@dataclass(eq=False)
class ValuesPart:
    """The values of one name ("Call the dentist" and what people call it), with what the
    index needs of each worked out once: a list is rebuilt after every write of its owner,
    and then only the new name's part is new."""

    values: tuple[TextSlotValue, ...]
    pairs: tuple[tuple[str, Any], ...]
    """(what people say, the value), as given."""
    keys: tuple[str | None, ...]
    """Each value's folded text; "" never matches; None: always tried (see `_key`)."""
    starts: frozenset[str]
    anywhere: bool
    """A value that is always tried may begin anywhere."""

    @staticmethod
    def of(pairs: Iterable[tuple[str, Any]]) -> ValuesPart:
        """Literal values (a title with brackets in it is not a template)."""
        given = tuple(pairs)
        return ValuesPart.of_values(
            [TextSlotValue(text_in=TextChunk(_normalized(text)), value_out=out)
             for text, out in given], given)

    @staticmethod
    def of_values(values: Iterable[TextSlotValue], pairs: tuple[tuple[str, Any], ...] = ()) -> (
        ValuesPart
    ):
        kept = tuple(values)
        keys = tuple(_key(v) for v in kept)
        return ValuesPart(kept, pairs, keys, frozenset(_start(k) for k in keys if k),
                          None in keys)


def _key(value: TextSlotValue) -> str | None:
    chunk = value.text_in
    if isinstance(chunk, TextChunk):
        if not chunk.text.strip():
            return ""  # never matches; hassil leaves it out as well
        text = chunk.text.lstrip()
        folded = fold_case(text)
        if len(folded) == len(text):
            return folded
    # Templates and text whose case folding changes its length are always tried.
    return None


@dataclass
class PrefixSlotList(TextSlotList):
    """hassil's TextSlotList with the same candidates, from a dict keyed by folded value."""

    _parts: tuple[ValuesPart, ...] = field(default=(), init=False, repr=False, compare=False)
    _by_key: dict[str, list[TextSlotValue]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _lengths: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)
    _always: list[TextSlotValue] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    @staticmethod
    def of(pairs: Iterable[tuple[str, Any]], name: str) -> PrefixSlotList:
        """Literal values (a title with brackets in it is not a template)."""
        return PrefixSlotList.joined([ValuesPart.of(pairs)], name)

    @staticmethod
    def joined(parts: Iterable[ValuesPart], name: str) -> PrefixSlotList:
        """The values of `parts`, in order."""
        kept = tuple(parts)
        joined = PrefixSlotList(name=name, values=[v for p in kept for v in p.values])
        joined._parts = kept
        return joined

    def _own_parts(self) -> tuple[ValuesPart, ...]:
        if not self._parts and self.values:  # made with values of its own, not from parts
            self._parts = (ValuesPart.of_values(self.values),)
        return self._parts

    def _index(self) -> dict[str, list[TextSlotValue]]:
        by_key: dict[str, list[TextSlotValue]] = {}
        for part in self._own_parts():
            for key, value in zip(part.keys, part.values, strict=True):
                if key:
                    by_key.setdefault(key, []).append(value)
                elif key is None:
                    self._always.append(value)
        self._lengths = tuple(sorted({len(k) for k in by_key}))
        self._by_key = by_key
        return by_key

    def may_begin_in(self, text_grams: frozenset[str]) -> bool:
        """Could any value begin somewhere in the text whose `grams` (of `START` letters at
        least) these are? False only when none can: the first (up to) `START` letters of each
        value's first word are nowhere in the text."""
        return any(p.anywhere or not p.starts.isdisjoint(text_grams) for p in self._own_parts())

    def _prefixes(self, by_key: dict[str, list[TextSlotValue]], folded: str) -> list[Any]:
        found: list[TextSlotValue] = []
        for length in self._lengths:
            if length > len(folded):
                break
            hit = by_key.get(folded[:length])
            if hit:
                found.extend(hit)
        return found

    def get_candidates(self, text: str) -> list[TextSlotValue]:
        by_key = self._by_key if self._by_key is not None else self._index()
        folded = fold_case(text)
        candidates = self._prefixes(by_key, folded)
        if "-" in folded or "_" in folded:
            # The matcher retries with "-" and "_" read as spaces; offer those values too.
            candidates.extend(self._prefixes(by_key, folded.translate(_BREAK_WORDS)))
        candidates.extend(self._always)
        return candidates
