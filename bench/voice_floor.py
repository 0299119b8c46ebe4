"""The floor under bench/voice.py: what the web stack alone costs per call-second, no Luna code.

    .venv/bin/python bench/voice_floor.py [--calls 100] [--seconds 10]

N callers send Twilio-format media messages (160 bytes of μ-law, base64 in JSON, one every
20 ms, at real pace) to a bare Starlette websocket route served by uvicorn's websockets-sansio
(no compression) through plain ASGI receive(). The route does the least a bridge
can: parse each message (orjson), and in "relay" mode also join three frames into one
input_audio_buffer.append and send it upstream over a `websockets` client connection (the
library the OpenAI SDK's Realtime connection uses) to a sink process. Printed: CPU-ms of the
server process per call-second, for "receive" and "relay".

This measures a plain ASGI bridge on the stack, not Luna. `luna serve` no longer runs exactly
this: its WebSocket protocol (voice/direct_receive.py) hands each media frame to the bridge from
the socket's read callback, without the ASGI queue and a task wake-up per frame, so Luna's
bridge can cost less than the "relay" row here; bench/voice.py's figure minus this row is a
rough bound on what Luna's own logic (marks, playback tracking, audio out, transcripts, tools,
records) costs on top, not an exact share.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

SERVER = r"""
import os, orjson, uvicorn, websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

RELAY, SINK, BATCH = os.environ["FLOOR_MODE"] == "relay", os.environ["FLOOR_SINK"], 3

async def stream(ws):
    await ws.accept()
    up = await websockets.connect(SINK, compression=None) if RELAY else None
    frames = []
    while True:
        msg = await ws.receive()
        text = msg.get("text")
        if text is None:
            break
        ev = orjson.loads(text)
        if up is not None:
            frames.append(ev["media"]["payload"])
            if len(frames) >= BATCH:
                await up.send(orjson.dumps(
                    {"type": "input_audio_buffer.append", "audio": "".join(frames)}).decode())
                frames = []
    if up is not None:
        await up.close()

app = Starlette(routes=[WebSocketRoute("/stream", stream)])
uvicorn.run(app, host="127.0.0.1", port=int(os.environ["FLOOR_PORT"]), log_level="warning",
            ws="websockets-sansio", ws_per_message_deflate=False, access_log=False)
"""

SINK = r"""
import asyncio, logging, os, websockets

logging.getLogger("websockets").setLevel(logging.CRITICAL)  # the start-up probe's connection

async def drain(ws):
    async for _ in ws:
        pass

async def main():
    async with websockets.serve(drain, "127.0.0.1", int(os.environ["FLOOR_SINK_PORT"]),
                                compression=None):
        await asyncio.Future()

asyncio.run(main())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def _caller(url: str, seconds: float, k: int) -> None:
    import websockets

    payload = base64.b64encode(bytes([0xFF]) * 160).decode()
    sid = f"MZ{k:032x}"
    await asyncio.sleep(k * 0.02 / 10)  # spread the frame phases as real calls would be
    async with websockets.connect(url, compression=None) as ws:
        began, n = time.monotonic(), 0
        while time.monotonic() - began < seconds:
            n += 1
            await ws.send(json.dumps({
                "event": "media", "sequenceNumber": str(n), "streamSid": sid,
                "media": {"track": "inbound", "chunk": str(n), "timestamp": str(n * 20),
                          "payload": payload},
            }))
            await asyncio.sleep(max(0.0, began + n * 0.02 - time.monotonic()))


async def _wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return
    raise RuntimeError(f"nothing listens on {port}")


async def _round(mode: str, calls: int, seconds: float) -> float:
    port, sink_port = _free_port(), _free_port()
    env = {**os.environ, "FLOOR_MODE": mode, "FLOOR_PORT": str(port),
           "FLOOR_SINK": f"ws://127.0.0.1:{sink_port}", "FLOOR_SINK_PORT": str(sink_port)}
    # Started once per round, before anything is measured: blocking here costs nothing.
    sink = subprocess.Popen([sys.executable, "-c", SINK], env=env)  # noqa: ASYNC220
    server = subprocess.Popen([sys.executable, "-c", SERVER], env=env)  # noqa: ASYNC220
    try:
        await _wait_port(sink_port)
        await _wait_port(port)
        cpu0 = _cpu_ms(server.pid)
        await asyncio.gather(*(_caller(f"ws://127.0.0.1:{port}/stream", seconds, k)
                               for k in range(calls)))
        return (_cpu_ms(server.pid) - cpu0) / (calls * seconds)
    finally:
        for p in (server, sink):
            p.terminate()
            p.wait(10)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  load: {os.getloadavg()[0]:.2f}  calls: {args.calls}")
    print(f"{'mode':<10} {'CPU-ms per call-second':>24}")
    for mode in ("receive", "relay"):
        print(f"{mode:<10} {await _round(mode, args.calls, args.seconds):>24.2f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
