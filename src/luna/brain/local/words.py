"""English word forms for the household's own names: "Take out the trash" is also "took out the
trash", "the trash" and "trash"; "Running" is also "ran", "run" and "went running".

Only enough morphology for chore, task and habit titles: a table of irregular verbs and the
regular -ed rules. An unknown leading word is treated as a verb only when it is in the table or
looks like one of the common chore verbs, so "Vet appointment" stays a noun phrase.
"""

from __future__ import annotations

import re
from functools import lru_cache

IRREGULAR_PAST: dict[str, str] = {
    "take": "took", "do": "did", "feed": "fed", "make": "made", "buy": "bought", "pay": "paid",
    "put": "put", "sweep": "swept", "get": "got", "go": "went", "write": "wrote", "read": "read",
    "run": "ran", "give": "gave", "bring": "brought", "hang": "hung", "set": "set",
    "send": "sent", "throw": "threw", "drive": "drove", "eat": "ate", "drink": "drank",
    "swim": "swam", "sit": "sat", "see": "saw", "find": "found", "have": "had", "lay": "laid",
    "sell": "sold", "tell": "told", "meet": "met", "leave": "left", "keep": "kept",
    "sleep": "slept", "lose": "lost", "ride": "rode", "sing": "sang", "teach": "taught",
    "think": "thought", "catch": "caught", "fly": "flew", "shut": "shut", "cut": "cut",
    "hide": "hid", "wake": "woke", "win": "won", "build": "built", "spend": "spent",
    "stick": "stuck", "draw": "drew", "grow": "grew", "know": "knew", "begin": "began",
}
# Verbs that start chore and task titles; with the irregular ones they decide verb-ness.
COMMON_VERBS = frozenset({
    "call", "renew", "empty", "clean", "mop", "vacuum", "water", "walk", "wash", "fold", "dust",
    "mow", "tidy", "scrub", "wipe", "change", "load", "unload", "cook", "organize", "organise",
    "pick", "return", "schedule", "email", "text", "finish", "submit", "plan", "shop", "book",
    "fix", "order", "print", "sign", "file", "check", "clear", "sort", "rake", "shovel", "iron",
    "polish", "prep", "prepare", "pack", "unpack", "recycle", "replace", "install", "mail",
    "cancel", "confirm", "update", "review", "practice", "practise", "study", "stretch",
    "meditate", "journal", "floss", "brush", "jog", "bike", "cycle", "dance", "paint", "visit",
    "help", "wrap", "bake", "trim", "weed", "hoover", "strip", "restock", "refill", "declutter",
    "bathe", "groom", "fill", "pump", "lift", "squat", "plank", "save", "learn",
    "drop", "collect", "feed", "take", "do", "make", "buy", "pay", "put", "sweep", "get", "go",
    "write", "read", "run", "give", "bring", "hang", "set", "send", "throw", "drive", "swim",
})
PARTICLES = frozenset({"out", "up", "down", "away", "off", "in", "back", "over", "around"})
ARTICLES = frozenset({"the", "a", "an", "my", "our", "his", "her", "their", "your"})
ALIAS_CACHE = 8192
"""Titles whose aliases are kept: a member's lists are rebuilt after each of their writes, and
working the aliases out again was most of that. Tuples of strings, which the garbage collector
never walks."""
GERUND_BASE: dict[str, str] = {
    "running": "run", "swimming": "swim", "jogging": "jog", "writing": "write", "biking": "bike",
    "cycling": "cycle", "dancing": "dance", "meditating": "meditate", "hiking": "hike",
    "skating": "skate", "baking": "bake", "rowing": "row", "shopping": "shop",
    "skipping": "skip", "stretching": "stretch", "journaling": "journal",
    "journalling": "journal", "reading": "read", "walking": "walk", "lifting": "lift",
    "flossing": "floss", "practicing": "practice", "saving": "save", "drawing": "draw",
    "painting": "paint", "studying": "study", "sleeping": "sleep", "cooking": "cook",
}


def past(verb: str) -> str:
    v = verb.lower()
    if v in IRREGULAR_PAST:
        return IRREGULAR_PAST[v]
    if v.endswith("e"):
        return v + "d"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ied"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", v) and len(v) <= 4:
        return v + v[-1] + "ed"  # mop → mopped, plan → planned
    return v + "ed"


def gerund(verb: str) -> str:
    v = verb.lower()
    for g, base in GERUND_BASE.items():
        if base == v:
            return g
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith("ee"):
        return v[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", v) and len(v) <= 4:
        return v + v[-1] + "ing"
    return v + "ing"


def base_of_gerund(word: str) -> str | None:
    w = word.lower()
    if w in GERUND_BASE:
        return GERUND_BASE[w]
    if not w.endswith("ing") or len(w) < 6:
        return None
    stem = w[:-3]
    if len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in "ls":
        return stem[:-1]
    return stem


def is_verb(word: str) -> bool:
    return word.lower() in COMMON_VERBS or word.lower() in IRREGULAR_PAST


def split_verb(title: str) -> tuple[str, str, str] | None:
    """("take", "out", "the trash") for "Take out the trash"; None when it has no leading verb."""
    words = title.lower().split()
    if len(words) < 2 or not is_verb(words[0]):
        return None
    if words[1] in PARTICLES and len(words) > 2:
        return words[0], words[1], " ".join(words[2:])
    return words[0], "", " ".join(words[1:])


def bare(phrase: str) -> str:
    """The phrase without its leading article or possessive."""
    words = phrase.split()
    while words and words[0] in ARTICLES:
        words = words[1:]
    return " ".join(words)


@lru_cache(maxsize=ALIAS_CACHE)
def item_aliases(title: str) -> tuple[str, ...]:
    """What people call a chore or task in "I did the ...": the title and its object."""
    low = " ".join(title.lower().split())
    out = [low, bare(low)]
    parts = split_verb(low)
    if parts is not None:
        verb, particle, obj = parts
        ing = gerund(verb)
        out += [obj, bare(obj), f"the {bare(obj)}", f"my {bare(obj)}",
                " ".join(w for w in (ing, particle, obj) if w), f"{bare(obj)} day"]
    else:
        noun = bare(low)
        out += [f"the {noun}", f"my {noun}", f"{noun} day"]
        head = noun.split()[0]
        if len(noun.split()) > 1 and len(head) >= 3:
            out += [head, f"the {head}", f"my {head}"]  # "the vet" for "Vet appointment"
    if "appointment" in low:
        out += [a.replace("appointment", "appt") for a in out]
    return _unique(out)


@lru_cache(maxsize=ALIAS_CACHE)
def done_aliases(title: str) -> tuple[str, ...]:
    """The title as a thing done: "took out the trash", "took the trash out", "called mom"."""
    low = " ".join(title.lower().split())
    parts = split_verb(low)
    if parts is None:
        return ()
    verb, particle, obj = parts
    did = past(verb)
    out = []
    if particle:
        out += [f"{did} {particle} {obj}", f"{did} {obj} {particle}"]
        if bare(obj) != obj:
            out.append(f"{did} {particle} {bare(obj)}")
    else:
        out.append(f"{did} {obj}")
        b = bare(obj)
        if b != obj:
            out.append(f"{did} {b}")
        out += [f"{did} the {b}", f"{did} my {b}"]
    return _unique(out)


@lru_cache(maxsize=ALIAS_CACHE)
def habit_aliases(name: str) -> tuple[str, ...]:
    """"Journaling" → journaling, journal, my journaling; "Squats" → squats, squat."""
    low = " ".join(name.lower().split())
    out = [low]
    words = low.split()
    head = words[0]
    base = base_of_gerund(head)
    if base is not None:
        out.append(" ".join([base, *words[1:]]))
    elif is_verb(head):
        out.append(" ".join([gerund(head), *words[1:]]))
        if head.endswith("ate"):
            out.append(head[:-1] + "ion")  # meditate → meditation
    if low.endswith("s") and not low.endswith("ss"):
        out.append(low[:-1])
    elif " " not in low and base is None and not is_verb(low):
        out.append(low + "s")
    return _unique(out)


@lru_cache(maxsize=ALIAS_CACHE)
def habit_done_aliases(name: str) -> tuple[str, ...]:
    """"Running" → ran, went running; "Meditate" → meditated; "Squats" → did squats."""
    low = " ".join(name.lower().split())
    words = low.split()
    head = words[0]
    base = base_of_gerund(head)
    out: list[str] = []
    tail = " ".join(words[1:])
    if base is not None:
        out += [_join(past(base), tail), f"went {low}", f"did some {low}", f"did my {low}"]
        if not tail and base in _OUTINGS:
            out += [f"went for a {base}", f"did a {base}", f"went on a {base}",
                    f"did my {base}", f"got a {base} in", f"got my {base} in"]
    elif is_verb(head):
        out += [_join(past(head), tail)]
    else:
        out += [f"did {low}", f"did my {low}", f"did some {low}"]
    return _unique(out)


_OUTINGS = frozenset({"run", "walk", "swim", "jog", "hike", "bike", "ride", "row", "skate"})


def _join(a: str, b: str) -> str:
    return f"{a} {b}".strip()


def _unique(items: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen[item] = None
    return tuple(seen)


def capitalize(text: str) -> str:
    """First letter up, the rest as said ("call Mom" → "Call Mom")."""
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text
