"""Fuzzy resolution of names people say ("take out trash") to the things they mean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rapidfuzz import fuzz, process, utils

from luna.errors import Ambiguous, NotFound

T = TypeVar("T")

MATCH_CUTOFF = 70.0
# Two candidates closer than this are both plausible, so Luna asks instead of guessing.
AMBIGUITY_MARGIN = 6.0


def best_match(
    query: str, items: Sequence[T], key: Callable[[T], str], *, what: str = "item"
) -> T:
    found = match_or_none(query, items, key, what=what)
    if found is None:
        raise NotFound(f"no {what} matching {query!r}")
    return found


def match_or_none(
    query: str, items: Sequence[T], key: Callable[[T], str], *, what: str = "item"
) -> T | None:
    if not items:
        return None
    names = [key(i) for i in items]
    q = utils.default_process(query)
    exact = [i for i, n in zip(items, names, strict=True) if utils.default_process(n) == q]
    if len(exact) == 1:
        return exact[0]
    results = process.extract(
        query, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=5,
        score_cutoff=MATCH_CUTOFF,
    )
    if not results:
        return None
    top_score = results[0][1]
    close = [r for r in results if top_score - r[1] < AMBIGUITY_MARGIN]
    distinct = {names[r[2]] for r in close}
    if len(close) > 1 and len(distinct) > 1:
        options = [names[r[2]] for r in close]
        raise Ambiguous(f"more than one {what} matches {query!r}: {', '.join(options)}", options)
    return items[results[0][2]]
