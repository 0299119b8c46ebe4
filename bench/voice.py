"""Concurrent phone calls: fake Twilio callers ↔ Luna (uvicorn, its own process) ↔ fake OpenAI
Realtime (its own process), all on 127.0.0.1.

    .venv/bin/python bench/voice.py [--calls 1,50,100,200] [--seed 7]

Each call (~13 s): the incoming webhook (signed; it pre-warms the Realtime socket), the signed
stream, a 2.5 s greeting that the caller interrupts at a random moment, a 1.5 s answer heard to
the end, a second question and a 3 s answer, two seconds of silence, then Twilio's stop.
Printed per N: CPU-ms of the Luna process per call-second (and per call), its peak RSS, first
audio (server's first delta → caller's first media frame) p50/p99, interruption
(server's speech_started → caller receives clear) p50/p99, truncate error (audio_end_ms against
the audio the caller had actually played at the clear) p50/p95, and failed calls.
Targets at 100 calls (2 cores): none failed, first audio p99 ≤ 20 ms, interruption p99 ≤ 20 ms,
truncate error p95 ≤ 30 ms, ≤ 4 CPU-ms per call-second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from luna.channels.sms.signature import sign
from luna.testing.fake_realtime import FakeRealtimeServer, FakeSession, Say, Step
from luna.testing.fake_twilio_media import FakeTwilioCall

TOKEN = "bench-twilio-token"
ACCOUNT = "AC" + "b" * 32
PHONE = "+15550142001"
GREETING_MS = 2500
ANSWER_MS = 1500
LONG_MS = 3000
CALL_TIMEOUT_S = 40.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the fake OpenAI Realtime process ---------------------------------------------------------

def _script(session: FakeSession, n: int) -> Step:
    if n == 0:
        return Say("Hi, this is Luna. " * 3, GREETING_MS)
    return Say("Sure.", ANSWER_MS) if n == 1 else Say("Here is the longer answer.", LONG_MS)


def _realtime_process(conn: Connection, port_box: Any) -> None:
    async def main() -> None:
        server = FakeRealtimeServer(script_for=_script, strict=False, validate=True, pace=4.0)
        async with server:
            port_box.value = server.port
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv)
            conn.send({
                "problems": server.problems[:20],
                "sessions": [
                    {"tag": s.caller_tag, "first_delta": s.first_delta_at[:1],
                     "speech": s.speech_started_at[:1],
                     "truncate": [t.audio_end_ms for t in s.truncations[:1]]}
                    for s in server.sessions
                ],
            })

    _run(main())


def _run(coro: Any) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


# -- Luna ---------------------------------------------------------------------------------------

LUNA = """
import os, uvicorn
from luna.channels.app import create_app
from luna.config import load_settings
from luna.voice.direct_receive import UVICORN_WS
s = load_settings()
profile = os.environ.get("LUNA_BENCH_PROFILE")
if profile:  # the bench's measured window only: SIGUSR1 starts, SIGUSR2 stops and dumps
    import cProfile, signal
    prof = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
    signal.signal(signal.SIGUSR2, lambda *_: (prof.disable(), prof.dump_stats(profile)))
uvicorn.run(create_app(s), host="127.0.0.1", port=s.port, log_level="warning",
            ws=UVICORN_WS, access_log=False, ws_max_size=1 << 20,
            ws_per_message_deflate=False)  # as `luna serve` runs it
"""


async def _seed(db_url: str) -> None:
    from luna.db.engine import Database
    from luna.db.models import Base
    from luna.services.access import ADMIN
    from luna.services.container import Services
    from luna.testing.clock import FrozenClock

    db = Database(db_url)
    async with db.engine.begin() as c:
        await c.run_sync(Base.metadata.create_all)
    from datetime import UTC, datetime

    svc = Services.build(db, FrozenClock(datetime(2026, 3, 4, 15, 30, tzinfo=UTC)))
    await svc.members.create_household(ADMIN, name="Bench", timezone="America/New_York",
                                       admin_name="Maya", admin_phone=PHONE)
    await db.dispose()


def _cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- one caller ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    tag: int
    ok: bool = False
    why: str = ""
    seconds: float = 0.0
    first_media: float | None = None
    clear_at: float | None = None
    played_at_clear: float | None = None


async def _one_call(http: httpx.AsyncClient, port: int, tag: int, delay: float,
                    barge_ms: float) -> Outcome:
    out = Outcome(tag)
    await asyncio.sleep(delay)
    began = time.monotonic()
    public = f"http://127.0.0.1:{port}"
    call_sid = f"CA{tag:032x}"
    form = {"CallSid": call_sid, "From": PHONE, "To": "+15559990000", "Direction": "inbound"}
    url = f"{public}/assistant/webhooks/voice/incoming"
    call: FakeTwilioCall | None = None
    stage = "webhook"
    try:
        async with asyncio.timeout(CALL_TIMEOUT_S):
            r = await http.post(url, data=form,
                                headers={"X-Twilio-Signature": sign(TOKEN, url, form)})
            stream = re.search(r'<Stream url="([^"]+)"', r.text)
            if r.status_code != 200 or stream is None:
                out.why = f"webhook {r.status_code}"
                return out
            params = dict(re.findall(r'<Parameter name="([^"]+)" value="([^"]*)"', r.text))
            call = FakeTwilioCall(stream.group(1), TOKEN, stream.group(1), params,
                                  call_sid=call_sid, tag=tag, poll_s=0.05)
            c = call
            stage = "connect"
            await c.__aenter__()
            stage = "greeting"
            await c.wait_for(lambda: c.played_ms() >= barge_ms, within=CALL_TIMEOUT_S)
            stage = "barge-in"
            c.talk(500)
            await c.wait_for(lambda: c.clears, within=10)
            stage = "answer"
            await c.wait_for(lambda: c.bytes_since(c.clears[0].at) >= ANSWER_MS * 8, within=15)
            await c.wait_for(lambda: not c.playing, within=10)
            await asyncio.sleep(1.0)
            heard = c.media_bytes
            stage = "second answer"
            c.talk(500)
            await c.wait_for(lambda: c.media_bytes - heard >= LONG_MS * 8, within=15)
            await c.wait_for(lambda: not c.playing, within=10)
            await asyncio.sleep(2.0)
            await c.stop()
            out.first_media = c.first_media_at
            out.clear_at, out.played_at_clear = c.clears[0].at, c.clears[0].played_ms
            out.ok = True
    except Exception as exc:
        out.why = f"{type(exc).__name__} at {stage} after {time.monotonic() - began:.1f} s"
        if call is not None:
            await call.hang_up()
    out.seconds = time.monotonic() - began
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


async def _round(n: int, seed: int, tmp: Path) -> dict[str, Any]:
    rng = random.Random(seed + n)
    # A fresh database per round, so `--calls 100,100` repeats a size instead of failing.
    db_url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(dir=tmp) + f'/bench-{n}.db'}"
    await _seed(db_url)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    port_box = ctx.Value("i", 0)
    fake = ctx.Process(target=_realtime_process, args=(child, port_box), daemon=True)
    fake.start()
    while not port_box.value:  # noqa: ASYNC110 - a value set by another process
        await asyncio.sleep(0.02)
    port = _free_port()
    env = {**os.environ, "LUNA_DATABASE_URL": db_url, "LUNA_PORT": str(port),
           "LUNA_PUBLIC_URL": f"http://127.0.0.1:{port}", "OPENAI_API_KEY": "sk-bench",
           "LUNA_OPENAI_REALTIME_URL": f"ws://127.0.0.1:{port_box.value}/v1",
           "LUNA_TWILIO_AUTH_TOKEN": TOKEN, "LUNA_TWILIO_ACCOUNT_SID": ACCOUNT,
           "LUNA_TWILIO_API_BASE": "http://127.0.0.1:9", "LUNA_LOG_LEVEL": "WARNING",
           "LUNA_ENV": "test"}
    script = tmp / "luna_server.py"
    script.write_text(LUNA)
    log_path = Path(tempfile.gettempdir()) / f"luna-bench-{n}.log"
    logs = log_path.open("w")
    luna = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp,  # noqa: ASYNC220
                            stdout=logs, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=400)) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/api/health")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("Luna did not start")
            # One call first, unmeasured: a server that has been up a while is warm.
            warm = await _one_call(http, port, 0xFFF, 0, 500)
            if not warm.ok:
                raise RuntimeError(f"the warm-up call failed: {warm.why}")
            # ... and done with its start-up work (the grammar brain loads in the background).
            for _ in range(40):
                before = _cpu_ms(luna.pid)
                await asyncio.sleep(0.5)
                if _cpu_ms(luna.pid) - before < 5:
                    break
            rss = _rss_mb(luna.pid)
            spread = min(float(os.environ.get("LUNA_BENCH_SPREAD", "6")), 0.05 * n)
            profiling = bool(os.environ.get("LUNA_BENCH_PROFILE"))
            if profiling:
                luna.send_signal(signal.SIGUSR1)
            cpu0, t0 = _cpu_ms(luna.pid), time.monotonic()
            assert fake.pid is not None
            fake0, self0 = _cpu_ms(fake.pid), _cpu_ms(os.getpid())
            tasks = [asyncio.create_task(_one_call(http, port, k + 1, rng.uniform(0, spread),
                                                   rng.uniform(300, 1800)))
                     for k in range(n)]
            while not all(t.done() for t in tasks):
                rss = max(rss, _rss_mb(luna.pid))
                await asyncio.sleep(0.25)
            outcomes = [t.result() for t in tasks]
            await asyncio.sleep(0.5)  # the calls' records are written after the stop
            cpu = _cpu_ms(luna.pid) - cpu0
            wall = time.monotonic() - t0
            others = ((_cpu_ms(fake.pid) - fake0) / wall / 10, (_cpu_ms(os.getpid()) - self0)
                      / wall / 10)
            if profiling:
                luna.send_signal(signal.SIGUSR2)
                await asyncio.sleep(1)
        parent.send("stop")
        server = parent.recv()
    finally:
        luna.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            luna.wait(10)
        fake.terminate()
        logs.close()
        if os.environ.get("LUNA_BENCH_VERBOSE"):
            print(f"   Luna's log: {log_path}")
    by_tag = {s["tag"]: s for s in server["sessions"] if s["tag"] is not None}
    first, interrupt, trunc, failed = [], [], [], []
    for o in outcomes:
        s = by_tag.get(o.tag)
        if not o.ok or s is None or not s["truncate"] or not s["speech"] or not s["first_delta"]:
            failed.append(o.why or "no server-side record")
            continue
        assert o.first_media is not None and o.clear_at is not None
        assert o.played_at_clear is not None
        first.append((o.first_media - s["first_delta"][0]) * 1000)
        interrupt.append((o.clear_at - s["speech"][0]) * 1000)
        trunc.append(abs(s["truncate"][0] - o.played_at_clear))
    call_seconds = sum(o.seconds for o in outcomes)
    return {"n": n, "cpu_per_call_s": cpu / call_seconds if call_seconds else 0.0,
            "cpu_per_call": cpu / n,
            "cpu_ms": cpu, "wall_s": wall, "rss_mb": rss, "first": first,
            "interrupt": interrupt, "trunc": trunc, "failed": failed,
            "problems": server["problems"], "luna_core": cpu / wall / 10, "others": others}


def _report(r: dict[str, Any]) -> None:
    print(f"N={r['n']:>3}  CPU {r['cpu_per_call_s']:.2f} ms/call-s "
          f"({r['cpu_per_call']:.0f} ms/call)  RSS {r['rss_mb']:.0f} MB  "
          f"first audio p50/p99 {_pct(r['first'], 50):.1f}/{_pct(r['first'], 99):.1f} ms  "
          f"interruption p50/p99 {_pct(r['interrupt'], 50):.1f}/{_pct(r['interrupt'], 99):.1f} ms  "
          f"truncate err p50/p95 {_pct(r['trunc'], 50):.1f}/{_pct(r['trunc'], 95):.1f} ms  "
          f"failed {len(r['failed'])}  (wall {r['wall_s']:.1f} s; CPU %: Luna "
          f"{r['luna_core']:.0f}, fake Realtime {r['others'][0]:.0f}, "
          f"callers {r['others'][1]:.0f})",
          flush=True)
    if r["failed"]:
        kinds: dict[str, int] = {}
        for why in r["failed"]:
            key = why.split(" after ")[0]
            kinds[key] = kinds.get(key, 0) + 1
        print("   failures:", "; ".join(f"{k} ×{v}" for k, v in sorted(kinds.items())))
        if os.environ.get("LUNA_BENCH_VERBOSE"):
            print("   ", r["failed"][:10])
    if r["problems"]:
        print("   protocol problems:", "; ".join(r["problems"][:5]))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,50,100,200")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  load: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.calls.split(",")):
            _report(await _round(n, args.seed, Path(tmp)))


if __name__ == "__main__":
    _run(main())
