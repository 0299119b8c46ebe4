"""The local brain on the labelled set: accuracy, and how fast it is.

    .venv/bin/python bench/intents.py [--rounds 3]

Builds the Rivera household (tests/brain_family.py) on a temp SQLite file, then prints intent
and argument accuracy over tests/data/intents.yaml (planned without running tools; the held-out
part separately), and, after one unmeasured warm-up pass, p50/p99 latency of recognition
alone and of LocalBrain.handle end to end
with the tools executed, and of converse() (the same turn, recorded as an Interaction).
Target: converse() p99 <= 15 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.brain_family import (  # noqa: E402
    NOW,
    BrainFamily,
    Case,
    args_right,
    build_family,
    load_cases,
    plan_case,
    tool_right,
)

from luna.brain.converse import Brain  # noqa: E402
from luna.brain.local.engine import LocalBrain, env_for  # noqa: E402
from luna.brain.types import ConversationInput  # noqa: E402
from luna.config import load_settings  # noqa: E402
from luna.db.engine import Database  # noqa: E402
from luna.db.models import Base  # noqa: E402
from luna.services.container import Services  # noqa: E402
from luna.testing.clock import FrozenClock  # noqa: E402
from luna.tools import catalog  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def accuracy(
    brain: LocalBrain, services: Services, fam: BrainFamily, cases: list[Case]
) -> tuple[dict[str, tuple[int, int, int]], list[str]]:
    """Per group: (cases, right tool, right tool and arguments)."""
    groups: dict[str, list[int]] = {"all": [0, 0, 0], "tuned": [0, 0, 0], "held out": [0, 0, 0]}
    misses = []
    for case in cases:
        got = await plan_case(brain, services, fam, case)
        t, a = tool_right(case, got), args_right(case, got)
        for g in ("all", "held out" if case.holdout else "tuned"):
            groups[g][0] += 1
            groups[g][1] += t
            groups[g][2] += a
        if not a:
            misses.append(f"  {case.text!r}: want {case.calls} got {got.calls}")
    return {k: (v[0], v[1], v[2]) for k, v in groups.items()}, misses


Timings = dict[str, list[float]]


async def latency(
    brain: LocalBrain, services: Services, fam: BrainFamily, cases: list[Case], rounds: int
) -> tuple[Timings, Counter[str]]:
    """Wall-clock and CPU milliseconds per call. CPU time (the whole process, so the SQLite
    thread too) is what the wall clock would be on an idle machine, minus disk waits."""
    registry = catalog.load()
    # converse() as every text channel calls it: local-only, so the grammar answers or falls back.
    entry = Brain(services, registry, load_settings(brain_mode="local_only"), local=brain)
    t: Timings = {"recog": [], "recog_cpu": [], "e2e": [], "e2e_cpu": [], "conv": [],
                  "conv_cpu": []}
    outcomes: Counter[str] = Counter()
    # One unmeasured pass first: a statement's first run compiles its SQL and a template's
    # first match builds hassil's tries, once per process, as a server does in its first minutes.
    for case in cases:
        ctx = await fam.ctx(services, case.speaker)
        await entry.converse(ConversationInput(ctx.member, "sms", case.text))
    for _ in range(rounds):
        for case in cases:
            ctx = await fam.ctx(services, case.speaker)
            lists = await brain.lists.get(ctx)
            started, cpu = time.perf_counter(), time.process_time()
            brain.understand(case.text, lists, env_for(ctx, lists))
            t["recog"].append((time.perf_counter() - started) * 1000)
            t["recog_cpu"].append((time.process_time() - cpu) * 1000)
            started, cpu = time.perf_counter(), time.process_time()
            out = await brain.handle(ctx, registry, case.text)
            t["e2e"].append((time.perf_counter() - started) * 1000)
            t["e2e_cpu"].append((time.process_time() - cpu) * 1000)
            started, cpu = time.perf_counter(), time.process_time()
            await entry.converse(ConversationInput(ctx.member, "sms", case.text))
            t["conv"].append((time.perf_counter() - started) * 1000)
            t["conv_cpu"].append((time.process_time() - cpu) * 1000)
            first = out.actions[0].tool if out and out.actions else "(no tool)"
            t.setdefault(f"tool:{first}", []).append(t["e2e_cpu"][-1])
            if out is None:
                outcomes["passed to the LLM"] += 1
            elif not out.actions:
                outcomes["answered, no tool"] += 1
            elif all(a.ok for a in out.actions):
                outcomes["tool ok"] += 1
            else:
                outcomes[f"tool error ({out.actions[-1].error})"] += 1
    return t, outcomes


async def main(rounds: int, show_misses: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        services = Services.build(db, FrozenClock(NOW))
        fam = await build_family(services)
        started = time.perf_counter()
        brain = LocalBrain()
        warm_ms = (time.perf_counter() - started) * 1000
        cases = load_cases()
        groups, misses = await accuracy(brain, services, fam, cases)
        times, outcomes = await latency(brain, services, fam, cases, rounds)
        await db.dispose()

    print(f"Local brain on {len(cases)} labelled utterances (SQLite, {rounds} round(s) of handle)")
    print(f"{'set':<10} {'cases':>6} {'intent acc':>11} {'args acc':>9}")
    for name, (n, t, a) in groups.items():
        print(f"{name:<10} {n:>6} {t / n:>10.1%} {a / n:>9.1%}")
    print()
    print(f"{'latency (ms)':<28} {'p50':>7} {'p99':>7} {'max':>7}")
    rows = (("recognise + plan", times["recog"]), ("  same, CPU time", times["recog_cpu"]),
            ("handle end to end", times["e2e"]), ("  same, CPU time", times["e2e_cpu"]),
            ("converse() end to end", times["conv"]), ("  same, CPU time", times["conv_cpu"]))
    for name, values in rows:
        print(f"{name:<28} {statistics.median(values):>7.2f} {pct(values, 0.99):>7.2f} "
              f"{max(values):>7.2f}")
    print(f"{'brain start-up (warm-up)':<28} {warm_ms:>7.0f}")
    slowest = sorted(((statistics.median(v), k[5:]) for k, v in times.items()
                      if k.startswith("tool:")), reverse=True)[:5]
    print("slowest by first tool, median CPU ms of handle: "
          + ", ".join(f"{name} {ms:.1f}" for ms, name in slowest))
    print()
    print("outcomes: " + ", ".join(f"{k}: {v}" for k, v in outcomes.most_common()))
    wall, cpu = pct(times["conv"], 0.99), pct(times["conv_cpu"], 0.99)
    load = os.getloadavg()[0]
    print(f"target converse() p99 <= 15 ms: {'OK' if wall <= 15 else 'MISSED'} "
          f"(wall {wall:.1f} ms, CPU {cpu:.1f} ms; load average {load:.1f} on "
          f"{os.cpu_count()} CPUs)")
    if show_misses and misses:
        print("\nmisses:")
        print("\n".join(misses))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--misses", action="store_true", help="list the utterances it got wrong")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.misses))
