"""`luna serve --pin-cpus`: each worker claims a core of its own through a lock file."""

from __future__ import annotations

from pathlib import Path

from luna.cpu_slots import claim_cpu


def test_each_claim_takes_the_next_free_core_until_none_is_left(tmp_path: Path) -> None:
    first = claim_cpu(tmp_path, [0, 1])
    second = claim_cpu(tmp_path, [0, 1])
    assert first is not None and second is not None
    assert (first.cpu, second.cpu) == (0, 1)
    assert claim_cpu(tmp_path, [0, 1]) is None  # a third worker stays where the kernel puts it
    first.release()  # the first worker exited: its core is free for the one that replaces it
    again = claim_cpu(tmp_path, [0, 1])
    assert again is not None and again.cpu == 0
    again.release()
    second.release()
