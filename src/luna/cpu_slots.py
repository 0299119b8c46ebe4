"""One core for each `luna serve` worker (`--pin-cpus`).

Left to the kernel, the workers and everything else on the machine trade cores, and each
text then starts on caches another process has filled: on the 2-core bench machine that cost
about a fifth more CPU per SMS. A worker takes the first core whose slot file it can lock and
stays on it; the lock goes with the process, so a worker that uvicorn restarts takes the slot
its predecessor left.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CpuSlot:
    cpu: int
    fd: int
    """Open for the life of the process: closing it frees the slot."""

    def release(self) -> None:
        os.close(self.fd)


def claim_cpu(directory: Path, cpus: list[int]) -> CpuSlot | None:
    """The first of `cpus` no other process holds, locked for this one; None if all are."""
    directory.mkdir(parents=True, exist_ok=True)
    for cpu in cpus:
        fd = os.open(directory / f"cpu-{cpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return CpuSlot(cpu, fd)
    return None


def pin_worker(directory: Path) -> CpuSlot | None:
    """Claim a core among those this process may use, and move onto it."""
    slot = claim_cpu(directory, sorted(os.sched_getaffinity(0)))
    if slot is not None:
        os.sched_setaffinity(0, {slot.cpu})
    return slot
