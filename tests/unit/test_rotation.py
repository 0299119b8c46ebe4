from datetime import UTC, datetime

from luna.domain.rotation import AssignmentMode, fairest, next_assignee, next_in_rotation


def test_rotation_in_explicit_order_skips_nobody_and_repeats_nobody_over_a_full_cycle() -> None:
    order = [7, 3, 9, 1]
    current = 9
    seen = []
    for _ in order:
        nxt = next_in_rotation(order, current)
        assert nxt is not None
        seen.append(nxt)
        current = nxt
    assert seen == [1, 7, 3, 9]
    assert sorted(seen) == sorted(order)


def test_rotation_wraps_from_the_last_member_to_the_first() -> None:
    assert next_in_rotation([1, 2, 3], 3) == 1


def test_rotation_without_a_known_current_member_starts_at_the_front() -> None:
    assert next_in_rotation([4, 5], None) == 4
    assert next_in_rotation([4, 5], 99) == 4
    assert next_in_rotation([4, 5], None, unavailable={4}) == 5


def test_rotation_passes_over_unavailable_members() -> None:
    assert next_in_rotation([1, 2, 3, 4], 1, unavailable={2, 3}) == 4


def test_rotation_returns_current_member_when_everyone_else_is_away() -> None:
    assert next_in_rotation([1, 2, 3], 2, unavailable={1, 3}) == 2


def test_rotation_with_everyone_unavailable_returns_the_plain_next_member() -> None:
    assert next_in_rotation([1, 2, 3], 2, unavailable={1, 2, 3}) == 3


def test_rotation_of_nobody_is_nobody() -> None:
    assert next_in_rotation([], 1) is None


def test_fairest_picks_the_least_recent_effort() -> None:
    assert fairest([1, 2, 3], {1: 10.0, 2: 4.0, 3: 6.0}, {}) == 2


def test_fairest_counts_missing_effort_as_zero() -> None:
    assert fairest([1, 2], {1: 3.0}, {}) == 2


def test_fairest_tie_goes_to_whoever_did_the_chore_longest_ago_and_never_first() -> None:
    last = {
        1: datetime(2026, 5, 10, tzinfo=UTC),
        2: datetime(2026, 5, 1, tzinfo=UTC),
        3: None,
    }
    assert fairest([1, 2, 3], {}, last) == 3
    assert fairest([1, 2], {}, last) == 2


def test_fairest_tolerates_naive_and_aware_last_done_times() -> None:
    last = {1: datetime(2026, 5, 10, tzinfo=UTC), 2: datetime(2026, 5, 1)}
    assert fairest([1, 2], {}, last) == 2


def test_fairest_full_tie_keeps_candidate_order() -> None:
    assert fairest([5, 4, 6], {}, {}) == 5


def test_fairest_of_nobody_is_nobody() -> None:
    assert fairest([], {}, {}) is None


def test_next_assignee_fixed_keeps_the_owner() -> None:
    assert next_assignee(AssignmentMode.FIXED, 2, [1, 2, 3], {}, {}) == 2


def test_next_assignee_rotation_follows_the_order() -> None:
    assert next_assignee(AssignmentMode.ROTATION, 2, [1, 2, 3], {}, {}) == 3


def test_next_assignee_fairest_uses_the_order_as_candidates() -> None:
    assert next_assignee(AssignmentMode.FAIREST, 1, [1, 2, 3], {1: 1.0, 2: 0.5, 3: 2.0}, {}) == 2


def test_next_assignee_fairest_without_order_keeps_the_assignee() -> None:
    assert next_assignee(AssignmentMode.FAIREST, 0, [], {}, {}) == 0
    assert next_assignee(AssignmentMode.FAIREST, None, [], {}, {}) is None
