"""SMS webhook throughput and latency on the local-grammar path, over real HTTP.

    .venv/bin/python bench/sms.py [--requests 500] [--senders 1,50] [--rate 200] [--workers 2]

Starts `luna serve --workers N` (uvicorn; N defaults to one per core) on a free 127.0.0.1 port
over a temp SQLite file,
and over PostgreSQL too when LUNA_BENCH_DATABASE_URL is set (its tables are dropped and
recreated). Each sender is a member with its own phone, posting correctly signed Twilio
webhooks, each with a fresh MessageSid; the texts are a rotation of local-grammar turns (two
writes, a read, a check-in). Latency is from the moment a request is due to the last byte of
the TwiML reply. "errors" are non-200 answers; "slow path" counts empty TwiML (the turn missed
LUNA_SMS_REPLY_BUDGET_S and its reply went out through the outbound port instead).

Two kinds of run:
- closed: each of `--senders` posts back to back, waiting for each reply. Its msg/s is what the
  server can take at most; its latency at 50 senders is queueing (Little's law: 50 messages
  always in flight at 200 msg/s means 250 ms each on average), not what a texter waits.
- paced: `--rate` messages a second arrive on schedule from the largest sender count, whether
  or not earlier replies are back (as texts reach Twilio), over as many connections as are
  needed. Latency counts from each message's scheduled moment, so a server falling behind
  shows up in it instead of slowing the arrivals down.

Target on 2 cores, SQLite: the paced run at 200 msg/s keeps up (≥ 200 msg/s) with p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select

from luna.channels.sms.simulator import INCOMING_PATH, new_message_sid, signed_request
from luna.clock import SystemClock
from luna.config import Settings, load_settings
from luna.db.engine import Database
from luna.db.models import Base, Interaction
from luna.services.access import ADMIN
from luna.services.container import Services

AUTH_TOKEN = "bench-twilio-auth-token"
TEXTS = (
    "remind me to call the dentist {n}",
    "what's on today?",
    "mood 7",
    "add eggs {n} to my list",
)
WARM_UP = 40


def phone(i: int) -> str:
    return f"+1555200{i:04d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def reset_and_seed(url: str, members: int) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        services = Services.build(db, SystemClock())
        created = await services.members.create_household(
            ADMIN, name="Bench", timezone="America/New_York", admin_name="Sender 0",
            admin_phone=phone(0),
        )
        for i in range(1, members):
            await services.members.add_member(
                ADMIN, household_id=created.id, name=f"Sender {i}", phone=phone(i)
            )
    finally:
        await db.dispose()


async def handled_by(url: str) -> tuple[Counter[str], Counter[str]]:
    """Who answered the recorded turns, and which texts the grammar did not take."""
    db = Database(url)
    try:
        async with db.read() as s:
            rows = (await s.execute(select(Interaction.meta, Interaction.user_message))).all()
    finally:
        await db.dispose()
    by = Counter(str((meta or {}).get("handled_by")) for meta, _ in rows)
    missed = Counter(str(text) for meta, text in rows if (meta or {}).get("handled_by") != "local")
    return by, missed


class Server:
    """`luna serve` in a child process, as a user would run it."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if k != "OPENAI_API_KEY" and not k.startswith("LUNA_")}
        env.update({
            "LUNA_DATABASE_URL": database_url, "LUNA_PUBLIC_URL": self.base,
            "LUNA_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "LUNA_BRAIN_MODE": "local_only",
            "LUNA_LOG_LEVEL": "WARNING", "LUNA_ENV": "dev",
        })
        luna = Path(sys.executable).with_name("luna")
        # The server's log (stdout and stderr) goes to a file: a pipe nobody reads fills up,
        # and then the server blocks writing its next log line.
        self.log = tempfile.NamedTemporaryFile(
            "w+", prefix="luna-bench-sms-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [str(luna), "serve", "--port", str(self.port), "--no-migrate",
             "--workers", str(workers)], env=env,
            stdout=self.log, stderr=self.log, text=True,  # structlog prints to stdout
        )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError as exc:
                if self.proc.poll() is not None:
                    detail = self.log_tail() or "it exited"
                    raise RuntimeError(f"luna serve died: {detail}") from exc
                if time.monotonic() > deadline:
                    raise RuntimeError("luna serve did not start in 60 s") from exc
                await asyncio.sleep(0.1)
            else:
                writer.close()
                return

    def cpu_s(self) -> float:
        """CPU seconds used so far by `luna serve` and its worker processes."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in _tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def log_tail(self) -> str:
        return Path(self.log.name).read_text()[-4000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        text = Path(self.log.name).read_text()
        if "Traceback" in text or "ERROR" in text or "[error" in text:
            print(f"  the server logged errors: see {self.log.name}")
        else:
            Path(self.log.name).unlink()


class ConnectionClosed(Exception):
    """The server had closed the connection before this request."""


def _tree(root: int) -> list[int]:
    """`root` and its descendants (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Connection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost less than the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, signature: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionClosed
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Run:
    backend: str
    senders: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    slow: int
    rate: float | None = None
    """The paced run's offered msg/s; None for a closed run."""
    server_cpu_s: float = 0.0
    """CPU time of the server's processes during the run (all workers)."""

    @property
    def cpu_ms_per_message(self) -> float:
        return self.server_cpu_s * 1000 / max(1, self.requests)

    @property
    def achieved(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(q * len(xs)))]


def prepared(settings: Settings, count: int, senders: int, offset: int) -> list[list[
    tuple[bytes, str]
]]:
    """Every request signed before the clock starts, split among the senders."""
    per_sender: list[list[tuple[bytes, str]]] = [[] for _ in range(senders)]
    for n in range(count):
        who = n % senders
        text = TEXTS[(n // senders) % len(TEXTS)].format(n=offset + n)
        form, headers = signed_request(settings, phone(who), text, new_message_sid())
        per_sender[who].append((urlencode(form).encode(), headers["X-Twilio-Signature"]))
    return per_sender


async def load(
    port: int, work: list[list[tuple[bytes, str]]]
) -> tuple[float, list[float], int, int]:
    latencies: list[float] = []
    errors = slow = 0
    kinds: Counter[str] = Counter()

    async def sender(items: list[tuple[bytes, str]]) -> None:
        nonlocal errors, slow
        conn = Connection(port)
        try:
            for body, signature in items:
                started = time.perf_counter()
                status, reply = await conn.post(INCOMING_PATH, body, signature)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors += 1
                    kinds[f"HTTP {status}"] += 1
                elif b"<Message>" not in reply:
                    # Empty TwiML: the turn missed its budget and its reply went via the port.
                    slow += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender(items) for items in work))
    if kinds:
        print(f"  errors with {len(work)} senders: {dict(kinds)}")
    return time.perf_counter() - started, latencies, errors, slow


async def paced(
    port: int, work: list[list[tuple[bytes, str]]], rate: float
) -> tuple[float, list[float], int, int]:
    """Open loop: message i is due at i / rate seconds, round-robin over the senders, and goes
    out on an idle keep-alive connection (a new one when all are busy)."""
    order = [item for batch in zip(*work, strict=False) for item in batch]
    idle: list[Connection] = []
    opened: list[Connection] = []
    latencies: list[float] = []
    errors = slow = 0
    kinds: Counter[str] = Counter()

    async def one(due: float, body: bytes, signature: str) -> None:
        nonlocal errors, slow
        conn = idle.pop() if idle else None
        reused = conn is not None
        if conn is None:
            conn = Connection(port)
            opened.append(conn)
        try:
            try:
                status, reply = await conn.post(INCOMING_PATH, body, signature)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError,
                    asyncio.IncompleteReadError):
                if not reused:
                    raise
                # The server closed this idle keep-alive connection (uvicorn does after 5 s),
                # maybe as the text went out. Twilio would send it again on a new one, and so
                # does this client: the MessageSid makes a repeat harmless.
                conn.close()
                opened.remove(conn)
                conn = Connection(port)
                opened.append(conn)
                status, reply = await conn.post(INCOMING_PATH, body, signature)
        except (OSError, asyncio.IncompleteReadError, ValueError, ConnectionClosed) as exc:
            errors += 1
            kinds[type(exc).__name__] += 1
            conn.close()
            opened.remove(conn)
            return
        latencies.append((time.perf_counter() - due) * 1000)
        idle.append(conn)
        if status != 200:
            errors += 1
            kinds[f"HTTP {status}"] += 1
        elif b"<Message>" not in reply:
            slow += 1

    started = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()
    for i, (body, signature) in enumerate(order):
        due = started + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        task = asyncio.create_task(one(due, body, signature))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    for conn in opened:
        conn.close()
    if kinds:
        print(f"  errors at {rate:g} msg/s: {dict(kinds)}")
    print(f"  paced {rate:g} msg/s: {len(opened)} connections were needed")
    return elapsed, latencies, errors, slow


async def bench_backend(
    backend: str, url: str, requests: int, concurrency: list[int], rate: float | None,
    workers: int,
) -> tuple[list[Run], tuple[Counter[str], Counter[str]]]:
    await reset_and_seed(url, max(concurrency))
    settings = load_settings(env="dev", twilio_auth_token=AUTH_TOKEN, database_url=url)
    server = Server(url, workers)
    runs: list[Run] = []
    try:
        await server.wait_ready()
        settings = load_settings(env="dev", twilio_auth_token=AUTH_TOKEN, database_url=url,
                                 public_url=server.base)
        offset = 0
        await load(server.port, prepared(settings, WARM_UP, min(4, max(concurrency)), offset))
        offset += WARM_UP
        for senders in concurrency:
            work = prepared(settings, requests, senders, offset)
            offset += requests
            cpu = server.cpu_s()
            seconds, latencies, errors, slow = await load(server.port, work)
            runs.append(Run(backend, senders, requests, seconds, latencies, errors, slow,
                            server_cpu_s=server.cpu_s() - cpu))
        if rate:
            # Ten seconds of arrivals at least: the last replies' wait is then a small part
            # of the span the rate is measured over.
            senders, count = max(concurrency), max(requests, int(rate * 10))
            work = prepared(settings, count, senders, offset)
            offset += count
            cpu = server.cpu_s()
            seconds, latencies, errors, slow = await paced(server.port, work, rate)
            runs.append(Run(backend, senders, count, seconds, latencies, errors, slow, rate,
                            server_cpu_s=server.cpu_s() - cpu))
    finally:
        server.stop()
    return runs, await handled_by(url)


def table(runs: list[Run]) -> str:
    rows = [("database", "run", "senders", "requests", "errors", "slow path", "msg/s",
             "server CPU ms/msg", "p50 ms", "p90 ms", "p99 ms", "max ms")]
    for r in runs:
        run = "closed" if r.rate is None else f"paced {r.rate:g}/s"
        rows.append((r.backend, run, str(r.senders), str(r.requests), str(r.errors), str(r.slow),
                     f"{r.achieved:.0f}", f"{r.cpu_ms_per_message:.2f}",
                     f"{statistics.median(r.latencies_ms):.1f}",
                     f"{r.pct(0.90):.1f}", f"{r.pct(0.99):.1f}", f"{max(r.latencies_ms):.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="per concurrency level")
    parser.add_argument("--senders", default="1,50", help="comma-separated concurrency levels")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="offered msg/s of the paced run (0: no paced run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="server processes (luna serve --workers); default one per core")
    args = parser.parse_args()
    concurrency = [int(x) for x in args.senders.split(",") if x.strip()]
    backends = []
    with tempfile.TemporaryDirectory() as tmp:
        backends.append(("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"))
        if pg := os.environ.get("LUNA_BENCH_DATABASE_URL"):
            backends.append(("postgresql", load_settings(database_url=pg).database_url))
        runs: list[Run] = []
        for name, url in backends:
            got, handled = await bench_backend(name, url, args.requests, concurrency, args.rate,
                                               args.workers)
            runs.extend(got)
            by, missed = handled
            share = by.get("local", 0) / max(1, sum(by.values()))
            print(f"{name}: {sum(by.values())} turns recorded, "
                  f"{share:.0%} answered by the local grammar {dict(by)}")
            if missed:
                print(f"  not local: {dict(missed.most_common(5))}")
    print(f"\nSigned SMS webhooks, local grammar, {os.cpu_count()} cores, luna serve --workers "
          f"{args.workers}, load average {os.getloadavg()[0]:.1f}\n")
    print(table(runs))
    sqlite_paced = [r for r in runs if r.backend == "sqlite" and r.rate is not None]
    if sqlite_paced:
        r = sqlite_paced[0]
        # Keeping up: the last reply came back within a few per cent of the last arrival.
        ok = (r.rate is not None and r.rate >= 200 and r.achieved >= 0.97 * r.rate
              and r.pct(0.99) <= 100 and r.errors == 0 and r.slow == 0)
        print(f"\ntarget (SQLite, {r.senders} senders paced at {r.rate:g} msg/s: keeps up at "
              f"≥ 200 msg/s with p99 ≤ 100 ms): {'met' if ok else 'NOT met'}")
    return 0 if all(r.errors == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
