"""How a call hands the caller's frames on (CallSession._on_twilio, which may run inside the
server's read callback): three frames per append, written at once when OpenAI's socket takes
them, and held, bounded, when it does not. Scripted writers stand in for the socket."""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace
from typing import Any

from luna.config import load_settings
from luna.voice.bridge import INPUT_FRAMES, MAX_PENDING_FRAMES, CallSession


def _frame(n: int) -> str:
    payload = base64.b64encode(bytes([n % 256]) * 160).decode()
    return json.dumps({"event": "media", "media": {"payload": payload, "track": "inbound"}})


def _session(takes: bool) -> tuple[CallSession, list[bytes]]:
    hub: Any = SimpleNamespace(settings=load_settings(env="test"))
    ws: Any = SimpleNamespace(scope={}, receive=None, send=None)
    session = CallSession(hub, ws)
    conn: Any = object()
    written: list[bytes] = []

    def write(text: str) -> bool:
        if takes:
            written.append(base64.b64decode(json.loads(text)["audio"]))
        return takes

    session.conn = conn
    session._writer = (conn, write)
    return session, written


async def test_frames_go_out_three_at_a_time_from_the_read_callback_when_the_socket_takes_them(
) -> None:
    session, written = _session(takes=True)
    session._wake = asyncio.get_running_loop().create_future()  # the sending task is idle
    for n in range(9):
        session._on_twilio(_frame(n))
    assert [len(w) for w in written] == [160 * INPUT_FRAMES] * 3
    assert b"".join(written) == b"".join(bytes([n]) * 160 for n in range(9))
    assert session._frames == [] and not session._wake.done()  # nobody had to be woken


async def test_frames_wait_for_the_sending_task_when_the_socket_does_not_take_them() -> None:
    session, written = _session(takes=False)
    wake = session._wake = asyncio.get_running_loop().create_future()
    for n in range(INPUT_FRAMES):
        session._on_twilio(_frame(n))
    assert written == [] and len(session._frames) == INPUT_FRAMES
    assert wake.done()  # the awaited path sends them, in order, before anything newer


async def test_a_stalled_openai_socket_holds_at_most_two_seconds_of_audio() -> None:
    session, _ = _session(takes=False)
    session._wake = None  # the sending task is stuck in an awaited send
    for n in range(MAX_PENDING_FRAMES + 50):
        session._on_twilio(_frame(n))
    assert len(session._frames) == MAX_PENDING_FRAMES
    assert session.dropped_frames == 50
    # The newest audio is kept: it is what the caller is saying now.
    last = base64.b64decode(session._frames[-1])
    assert last == bytes([(MAX_PENDING_FRAMES + 49) % 256]) * 160
