"""Who does a chore next: a fixed owner, an explicit rotation, or the least-loaded member.

Rotation follows an explicit order rather than names or the last doer alone, so new chores do not
all start with the same person (grocy#894); "fairest" weighs recent effort rather than all-time
counts, so newcomers are not buried in catch-up work.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum


class AssignmentMode(StrEnum):
    FIXED = "fixed"
    ROTATION = "rotation"
    FAIREST = "fairest"


def next_in_rotation(
    order: Sequence[int], current: int | None, unavailable: Collection[int] = ()
) -> int | None:
    """The member after ``current`` in ``order`` (wrapping), passing over unavailable members.

    Without a (known) current member the rotation starts at the front. When everyone is
    unavailable the plain next member is returned: someone must still own the chore.
    """
    if not order:
        return None
    if current is not None and current in order:
        at = list(order).index(current) + 1
        # The current member comes last: they repeat only if everyone else is away.
        cycle = [*order[at:], *order[:at]]
    else:
        cycle = list(order)
    return next((member for member in cycle if member not in unavailable), cycle[0])


def _last_done_key(when: datetime | None) -> tuple[int, datetime]:
    if when is None:
        # Never having done the chore ranks as longest ago.
        return (0, datetime.min.replace(tzinfo=UTC))
    # Stored times may be naive UTC; comparing naive with aware would raise.
    return (1, when if when.tzinfo is not None else when.replace(tzinfo=UTC))


def fairest(
    candidates: Sequence[int],
    recent_effort: Mapping[int, float],
    last_done: Mapping[int, datetime | None],
) -> int | None:
    """The candidate with the least recent effort; ties go to whoever did this chore longest ago,
    then to candidate order."""
    if not candidates:
        return None
    ranked = sorted(
        enumerate(candidates),
        key=lambda item: (
            recent_effort.get(item[1], 0.0),
            _last_done_key(last_done.get(item[1])),
            item[0],
        ),
    )
    return ranked[0][1]


def next_assignee(
    mode: AssignmentMode,
    assignee: int | None,
    order: Sequence[int],
    recent_effort: Mapping[int, float],
    last_done: Mapping[int, datetime | None],
) -> int | None:
    """The assignee for the chore's next occurrence, after the current one was done."""
    mode = AssignmentMode(mode)
    if mode is AssignmentMode.FIXED:
        return assignee
    if mode is AssignmentMode.ROTATION:
        return next_in_rotation(order, assignee)
    pool = list(order) if order else ([] if assignee is None else [assignee])
    return fairest(pool, recent_effort, last_done)
