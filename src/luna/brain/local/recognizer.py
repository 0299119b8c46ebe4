"""Text + the household's lists → an `IntentMatch`. Pure: no I/O, no clock, deterministic.

hassil ranks every parse (fewer wildcards first, then more literal text); each is checked here in
that order, and the first that makes sense wins: a `{when}` must read as a time, a "needs_when"
template must carry one, a fuzzy `{thing}` must resolve to a chore, task or habit the household
has. Wildcard text is read back from the caller's original text (by span), so filler words hassil
skips never go missing from a message body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from hassil import Intents, RecognizeResult, WildcardSlotList, recognize_all
from hassil.expression import Alternative, Expression, Group, ListReference, RuleReference
from hassil.intents import Intent, IntentData
from rapidfuzz import fuzz, utils

from luna.brain.local import recurrence, timephrase
from luna.brain.local.lists import HouseholdLists
from luna.brain.local.prefilter import TemplateIndex, with_sentences

GRAMMAR = Path(__file__).parent / "grammar" / "en.yaml"
MAX_CHARS = 280
MAX_PARSES = 40
FUZZY_CUTOFF = 84.0
FUZZY_MARGIN = 4.0

_LEADING_FILLER = re.compile(
    r"^(?:(?:ok|okay|so|oh|um|uh|umm|well|hey|alright|right|hmm|ah|yo|hi|hello|and|also|"
    r"btw|fyi|actually|quick one|quick question)\b[\s,.!:;-]*)+",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(
    r"(?:[\s,.!:;-]*\b(?:please|pls|plz|thanks|thank you|thx|ty|luna|asap please)\b)+[\s.!?]*$",
    re.IGNORECASE,
)
_EDGE = " \t\n,.;:!?\"'“”"
_METRIC_WORDS = re.compile(
    r"(?i)\b(slept|sleep|mood|energy|feeling|feel|tired|exhausted|worked out|exercis\w*|workout\w*|"
    r"i'm|im)\b"
)
_CLAUSE_BREAK = re.compile(r"(?i)\s*(?:[,;]|\.\s|\band\b|\balso\b|\bplus\b|\bbut\b)\s*")
_DONE_SLOTS = {"chore_done": "chore", "task_done": "task", "habit_done": "habit",
               "goal_done": "goal"}
_NOT_AN_INTEREST_START = frozenset({
    "it", "that", "this", "you", "him", "her", "them", "those", "these", "your", "how", "when",
    "what", "me", "us", "my", "our", "his", "their", "it's", "that's", "being",
})
_NOT_INTERESTS = frozenset({
    "it", "that", "this", "you", "them", "him", "her", "me", "the idea", "that idea", "this idea",
    "your idea", "your ideas", "your answer", "that one", "this one", "those", "these",
})


WARM_UP = (
    "hello", "remind me to warm up tomorrow at 9", "what did i miss", "I did 30 squats",
    "I did thirty squats", "slept like a 5, energy 8", "worked out for 45 minutes", "mood 7",
    "feeling like a seven", "I read two more books",
    "I'm at 500 on my goal", "tell Sam dinner's at 7", "mark the dishes done",
)


@dataclass(frozen=True, slots=True)
class IntentMatch:
    intent: str
    slots: dict[str, Any] = field(default_factory=dict)
    sentence: str = ""
    """The template that matched, for debugging and tests."""


@lru_cache(maxsize=4)
def load_intents(path: str = str(GRAMMAR), only: str | None = None) -> Intents:
    """The grammar, or just one of its intents (check-in clauses are matched against Metrics
    alone, which is a fraction of the cost)."""
    full = Intents.from_files([path])
    if only is None:
        return full
    return replace(full, intents={only: full.intents[only]})


def clean(text: str) -> str:
    """What hassil should see: one line, plain apostrophes, no greeting-filler or sign-off."""
    value = " ".join(text.replace("’", "'").replace("‘", "'").split())
    stripped = _LEADING_FILLER.sub("", value).strip()
    if stripped and len(stripped.split()) >= 2:
        value = stripped
    tail = _TRAILING_FILLER.sub("", value).strip(" ,")
    if len(tail.split()) >= 2:
        value = tail
    return value.rstrip(" .")


@dataclass(frozen=True, slots=True)
class _Tiers:
    """The grammar in two parts: templates that can match without binding a wildcard, and
    those every match of which binds one. hassil ranks fewer wildcards first, so when a parse
    with none is accepted, no template of the second part could have come before it."""

    plain: TemplateIndex
    wild: TemplateIndex
    place: dict[int, int]
    """Each template (by id) at its place in hassil's own order, which breaks ranking ties."""


def _binds_wildcard(exp: Expression, names: set[str], rules: dict[str, Any],
                    seen: frozenset[str] = frozenset()) -> bool:
    """Does every way of matching `exp` bind one of the wildcard lists `names`?"""
    if isinstance(exp, ListReference):
        return exp.list_name in names and not exp.is_capture
    if isinstance(exp, RuleReference):
        rule = rules.get(exp.rule_name)
        if rule is None or exp.rule_name in seen:
            return False
        return _binds_wildcard(rule.expression, names, rules, seen | {exp.rule_name})
    if isinstance(exp, Alternative):
        return not exp.is_optional and bool(exp.items) and all(
            _binds_wildcard(item, names, rules, seen) for item in exp.items)
    if isinstance(exp, Group):  # a sequence or a permutation: every item is matched
        return any(_binds_wildcard(item, names, rules, seen) for item in exp.items)
    return False


def split_tiers(intents: Intents) -> _Tiers:
    """Wildcards are the grammar's own lists; the household's lists (lists.py) are text lists
    that never bind a wildcard."""
    place: dict[int, int] = {}
    parts: tuple[dict[str, Intent], dict[str, Intent]] = ({}, {})
    wildcards = {n for n, v in intents.slot_lists.items() if isinstance(v, WildcardSlotList)}
    for intent in intents.intents.values():
        datas: tuple[list[IntentData], list[IntentData]] = ([], [])
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            names = wildcards | set(data.wildcard_list_names) | {
                n for n, v in data.slot_lists.items() if isinstance(v, WildcardSlotList)}
            chosen: tuple[list[Any], list[Any]] = ([], [])
            for sentence in data.sentences:
                place[id(sentence)] = len(place)
                chosen[_binds_wildcard(sentence.expression, names, rules)].append(sentence)
            for tier in (0, 1):
                if chosen[tier]:
                    datas[tier].append(with_sentences(data, chosen[tier]))
        for tier in (0, 1):
            if datas[tier]:
                parts[tier][intent.name] = Intent(intent.name, datas[tier])
    return _Tiers(TemplateIndex(replace(intents, intents=parts[0])),
                  TemplateIndex(replace(intents, intents=parts[1])), place)


def _rank(place: dict[int, int]) -> Any:
    """hassil's ranking (recognize_ranked: fewer wildcards, more literal text, less text in
    wildcards, intent name), then hassil's own template order."""
    def key(r: RecognizeResult) -> tuple[int, int, int, str, int]:
        wild = [e for e in r.entities_list if e.is_wildcard]
        return (len(wild), -r.text_chunks_matched, sum(len(e.text or "") for e in wild),
                r.intent.name, place.get(id(r.intent_sentence), 0))
    return key


class Recognizer:
    def __init__(self, grammar: Path | str = GRAMMAR) -> None:
        self.intents = load_intents(str(grammar))
        self.checkin = load_intents(str(grammar), "Metrics")
        # Splitting parses every template (hassil would on first use).
        self._full, self._metrics = split_tiers(self.intents), split_tiers(self.checkin)

    def warm_up(self, lists: HouseholdLists) -> None:
        """Build the number tries and match state now (hassil does it lazily)."""
        for text in WARM_UP:
            self.recognize(text, lists, "Sam")

    def recognize(
        self, text: str, lists: HouseholdLists, speaker: str | None
    ) -> IntentMatch | None:
        value = clean(text or "")
        if not value or len(value) > MAX_CHARS:
            return None
        match = self._best(value, lists, speaker, self._full)
        if match is None and _METRIC_WORDS.search(value):
            match = self._checkin_clauses(value, lists, speaker)
        return match

    def _best(
        self, text: str, lists: HouseholdLists, speaker: str | None, tiers: _Tiers
    ) -> IntentMatch | None:
        context = {"speaker": speaker} if speaker else None
        rank = _rank(tiers.place)
        # The templates that need no wildcard first: most messages ("mark the dishes done",
        # "brief me") are decided there, without the wildcard templates, which cost the most.
        slot_lists = lists.slot_lists
        plain = sorted(recognize_all(text, tiers.plain.reduced(text, slot_lists),
                                     slot_lists=slot_lists, intent_context=context), key=rank)
        for result in plain[:MAX_PARSES]:
            if any(e.is_wildcard for e in result.entities_list):
                break
            match = _interpret(result, text, lists)
            if match is not None and not (result.intent_metadata or {}).get("last_resort"):
                return match
        return first_sensible(
            sorted([*plain, *recognize_all(text, tiers.wild.reduced(text, slot_lists),
                                           slot_lists=slot_lists, intent_context=context)],
                   key=rank),
            text, lists,
        )

    def _checkin_clauses(
        self, text: str, lists: HouseholdLists, speaker: str | None
    ) -> IntentMatch | None:
        """"slept like a 5, energy 8, mood's ok": each clause a check-in value, merged."""
        clauses = [c for c in _CLAUSE_BREAK.split(text) if c and c.strip(_EDGE)]
        if not 2 <= len(clauses) <= 5:
            return None
        slots: dict[str, Any] = {}
        for clause in clauses:
            part = self._best(clause.strip(_EDGE), lists, speaker, self._metrics)
            if part is None or part.intent != "Metrics":
                return None
            for key, val in part.slots.items():
                if key in slots and slots[key] != val:
                    return None
                slots[key] = val
        return IntentMatch("Metrics", slots, "<clauses>")


def first_sensible(
    ranked: Sequence[RecognizeResult], text: str, lists: HouseholdLists
) -> IntentMatch | None:
    """The best-ranked parse that makes sense. A "last_resort" template ("add {rest}") only
    wins when nothing more specific does."""
    fallback: IntentMatch | None = None
    for result in ranked[:MAX_PARSES]:
        match = _interpret(result, text, lists)
        if match is None:
            continue
        if not (result.intent_metadata or {}).get("last_resort"):
            return match
        fallback = fallback or match
    return fallback


# --- making sense of one parse -----------------------------------------------------------------


def _slots(result: RecognizeResult, text: str) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for e in result.entities_list:
        value: Any = e.value
        if e.is_wildcard:
            span = getattr(e, "text_span", None)
            raw = text[span[0]:span[1]] if span else str(e.text)
            tail = text[span[1]:].strip() if span else ""
            if tail and set(tail) <= set("!?."):
                raw += tail  # hassil drops a final "?"; a message body needs it
            value = _strip(raw)
            if not value:
                return {}
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        slots[_DONE_SLOTS.get(e.name, e.name)] = value
    return slots


_WILD_EDGE = " \t\n,;:\"'“”-–—"


def _strip(raw: str) -> str:
    """Wildcard text without its edge quotes and commas, or a trailing "please"; a final "?" or
    "!" is kept (a message body needs it; titles drop it later)."""
    value = raw.strip(_WILD_EDGE)
    value = _TRAILING_FILLER.sub("", value).strip(_WILD_EDGE)
    return value


def _interpret(result: RecognizeResult, text: str, lists: HouseholdLists) -> IntentMatch | None:
    slots = _slots(result, text)
    if not slots and result.entities_list:
        return None
    meta = result.intent_metadata or {}
    intent = result.intent.name
    if "when" in slots:
        said = str(slots["when"])
        when = timephrase.parse(said)
        if when is None and intent == "AddEvent":
            # "thursday at 3 at Smile Dental": the place comes after the time.
            split = timephrase.split_leading(said)
            place = re.match(r"(?i)^(?:at|in|@)\s+(.+)$", split.rest)
            if split.when is not None and place:
                when, slots["location"] = split.when, place.group(1).strip(_EDGE)
        if when is None:
            return None
        slots["when"] = when
    if meta.get("needs_when") and not _has_when(slots):
        return None
    if meta.get("leading_when"):
        split = timephrase.split_leading(str(slots.get("rest", "")))
        if split.when is None or not re.match(r"(?i)^(to|that|about)\b", split.rest):
            return None
    if meta.get("needs_recurrence") and recurrence.extract(str(slots.get("rest", "")))[0] is None:
        return None
    fuzzy = slots.pop("fuzzy", None)
    if fuzzy is not None:
        resolved = _resolve_fuzzy(intent, str(fuzzy), slots, lists)
        if resolved is None:
            return None
        intent, slots = resolved
    if slots.pop("new_habit", None):
        thing = str(slots.pop("thing", ""))
        found = _fuzzy(thing, lists.aliases.get("habit", []))
        slots["habit"] = found if isinstance(found, str) else thing
    if not _sensible(intent, slots, meta):
        return None
    sentence = getattr(result.intent_sentence, "text", "") or ""
    return IntentMatch(intent, slots, sentence)


def _has_when(slots: dict[str, Any]) -> bool:
    if isinstance(slots.get("when"), timephrase.When):
        return True
    for key in ("rest", "title"):
        if key in slots and timephrase.split_any(str(slots[key])).when is not None:
            return True
    return False


def _sensible(intent: str, slots: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Checks no template can express: is the wildcard the kind of thing the intent wants?"""
    if intent == "UpdateProfile" and slots.get("field") in ("timezone", "communication_style"):
        return True
    if intent == "UpdateProfile":
        value = str(slots.get("interest") or slots.get("name") or "").lower()
        if not value or value in _NOT_INTERESTS:
            return False
        if slots.get("field") == "interests" and value.split()[0] in _NOT_AN_INTEREST_START:
            return False  # "I love that song", "I love my kids"
        if slots.get("field") == "name":
            letters = value.replace(" ", "").replace("-", "")
            return 1 <= len(value.split()) <= 3 and letters.isalpha()
        return len(value.split()) <= 8
    if intent == "CreateGoal":
        goal = str(slots.get("goal_text", ""))
        has_number = bool(re.search(r"\d", goal))
        has_horizon = bool(re.search(
            r"\b(this|next|by|before|per|a|each|every)\s+(year|month|week|quarter|day|summer|"
            r"spring|fall|winter|christmas|june|july|august|september|october|november|december|"
            r"january|february|march|april|may)\b|\bby (the )?end of\b|\bin 20\d\d\b|\bby\b", goal,
            re.IGNORECASE))
        return has_number or has_horizon or bool(meta.get("explicit"))
    if intent == "AddEvent" and "member" in slots and "title" in slots:
        return _has_when(slots)
    if intent == "SendMessage":
        return len(str(slots.get("body", ""))) >= 2
    return True


# --- fuzzy names -------------------------------------------------------------------------------


class _Ambiguous:
    def __init__(self, options: list[str]) -> None:
        self.options = options


_ARTICLES = re.compile(r"\b(the|a|an|my|our|his|her|their|your|some)\b")


@lru_cache(maxsize=16384)
def _norm(text: str) -> str:
    # A household's aliases are the same few hundred strings turn after turn; a fuzzy lookup
    # compares the query with every one of them, so each is normalised once, not per turn.
    return " ".join(_ARTICLES.sub(" ", utils.default_process(text)).split())


def _fuzzy(query: str, pairs: Iterable[tuple[str, str]]) -> str | _Ambiguous | None:
    """The canonical name whose alias best matches `query`; ambiguous when two are close.

    Articles are dropped first ("take out trash" is "take out the trash"), and scoring is on the
    whole phrase, so a shared "the" never makes "the dishes" look like "the trash".
    """
    q = _norm(query)
    if not q:
        return None
    best: dict[str, float] = {}
    for alias, canonical in pairs:
        a = _norm(alias)
        if not a:
            continue
        score = 100.0 if a == q else max(float(fuzz.ratio(q, a)),
                                         float(fuzz.token_sort_ratio(q, a)))
        if score > best.get(canonical, 0.0):
            best[canonical] = score
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] < FUZZY_CUTOFF:
        return None
    if ranked[0][1] == 100.0:
        return ranked[0][0]
    close = [name for name, score in ranked if ranked[0][1] - score < FUZZY_MARGIN]
    if len(close) > 1:
        return _Ambiguous(close)
    return ranked[0][0]


_KIND_INTENT = {"chore": "CompleteChore", "task": "CompleteTask", "habit": "LogHabit"}


def _resolve_fuzzy(
    intent: str, kind: str, slots: dict[str, Any], lists: HouseholdLists
) -> tuple[str, dict[str, Any]] | None:
    thing = str(slots.pop("thing", ""))
    if not thing:
        return None
    if kind in ("chore", "named_chore"):
        found = _fuzzy(thing, lists.aliases.get("chore", []))
        if isinstance(found, str):
            return intent, {**slots, "chore": found}
        # "mark the x chore done" says what it is: let the tool say it doesn't know it.
        return (intent, {**slots, "chore": thing}) if kind == "named_chore" else None
    kinds = ("task", "chore") if kind == "any_reschedule" else ("chore", "task", "habit")
    hits: list[tuple[str, str]] = []
    for k in kinds:
        found = _fuzzy(thing, lists.aliases.get(k, []))
        if isinstance(found, str):
            hits.append((k, found))
        elif isinstance(found, _Ambiguous):
            hits.append((k, thing))  # the tool lists the candidates back
    if len(hits) != 1:
        return None
    k, name = hits[0]
    if kind == "any_reschedule":
        target = "RescheduleTask" if k == "task" else "RescheduleChore"
        return target, {**slots, k: name}
    return _KIND_INTENT[k], {**slots, k: name}
