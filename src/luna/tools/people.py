"""Who a member means when they name someone ("mom", "Sam", "me")."""

from __future__ import annotations

from collections.abc import Sequence

from luna.errors import Ambiguous, InvalidInput, NotFound
from luna.services.matching import best_match
from luna.services.members import MemberName, MemberOut
from luna.tools.context import ToolContext

SELF_WORDS = frozenset({"me", "myself", "i", "mine", "self"})

Person = MemberOut | MemberName
"""Who was named: the speaker's full record, or another member's id and names (what the tools
need of them, read without anyone's profile)."""


def _aliases(members: Sequence[Person]) -> list[tuple[str, Person]]:
    return [(alias, m) for m in members for alias in [m.name, *m.nicknames] if alias.strip()]


def match_member(name: str, members: Sequence[Person]) -> Person:
    """The one member whose name or nickname best matches `name` (NotFound / Ambiguous)."""
    if name.strip().isdigit():
        for m in members:
            if m.id == int(name):
                return m
        raise NotFound(f"no family member with id {name.strip()}")
    pairs = _aliases(members)
    try:
        return best_match(name, pairs, lambda p: p[0], what="family member")[1]
    except Ambiguous as exc:
        # "Sam" and "Sammy" being the same person's name and nickname is not a real ambiguity.
        owners = {m.id: m for alias, m in pairs if alias in exc.candidates}
        if len(owners) == 1:
            return next(iter(owners.values()))
        names = sorted({m.name for m in owners.values()}) or exc.candidates
        raise Ambiguous(f"more than one family member matches {name!r}: {', '.join(names)}",
                        names) from exc


async def resolve_member(ctx: ToolContext, name: str) -> Person:
    """A member of the caller's household named `name`; other households are never searched."""
    text = name.strip()
    if not text:
        raise InvalidInput("a family member's name is needed")
    if text.lower() in SELF_WORDS:
        return ctx.member
    return match_member(text, await ctx.services.members.names(ctx.actor))


async def resolve_members(ctx: ToolContext, names: Sequence[str]) -> list[Person]:
    """Each named member once, in the order first named."""
    members = await ctx.services.members.names(ctx.actor)
    found: dict[int, Person] = {}
    for name in names:
        text = name.strip()
        if not text:
            continue
        m = ctx.member if text.lower() in SELF_WORDS else match_member(text, members)
        found.setdefault(m.id, m)
    return list(found.values())
