"""The server side of direct receive (voice/direct_receive.py) and the client side of immediate
writes (voice/realtime_send.py), each against a real peer on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from luna.voice.direct_receive import UVICORN_WS, direct_receive
from luna.voice.realtime_send import immediate_writer

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test's loop owns signals
        pass


@asynccontextmanager
async def _serving(app: App) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, ws=UVICORN_WS, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)


async def test_messages_keep_their_order_across_the_attach_and_disconnect_still_comes_by_receive(
) -> None:
    outcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        first = await receive()
        await asyncio.sleep(0.1)  # the next message arrives meanwhile and waits in the queue
        attach = direct_receive(scope)
        assert attach is not None
        sunk: list[str | bytes] = []
        attach(sunk.append)
        at_attach = len(sunk)
        last = await receive()  # only the disconnect is left for receive()
        outcome.set_result({"first": first["text"], "sunk": sunk, "at_attach": at_attach,
                            "last": last["type"]})

    async with _serving(app) as url, connect(url) as ws:
        for n in range(1, 6):
            await ws.send(str(n))
        await ws.send(b"\x01\x02")
        await asyncio.sleep(0.3)
    got = await asyncio.wait_for(outcome, 5)
    assert got["first"] == "1"
    assert got["sunk"] == ["2", "3", "4", "5", b"\x01\x02"]
    assert got["at_attach"] >= 1  # what was queued before the attach went first
    assert got["last"] == "websocket.disconnect"


async def test_a_sink_that_fails_loses_that_message_only() -> None:
    sunk: list[str | bytes] = []
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def sink(message: str | bytes) -> None:
        if message == "boom":
            raise RuntimeError("a bug in the sink")
        sunk.append(message)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        attach = direct_receive(scope)
        assert attach is not None
        attach(sink)
        done.set_result((await receive())["type"])

    async with _serving(app) as url, connect(url) as ws:
        for text in ("a", "boom", "c"):
            await ws.send(text)
        await asyncio.sleep(0.2)
        await ws.ping()  # the connection is still up after the failure
    assert await asyncio.wait_for(done, 5) == "websocket.disconnect"
    assert sunk == ["a", "c"]


async def test_invalid_utf8_text_to_a_sink_closes_with_1007() -> None:
    sunk: list[str | bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        attach = direct_receive(scope)
        assert attach is not None
        attach(sunk.append)
        await receive()

    async with _serving(app) as url, connect(url) as ws:
        await ws.send("fine")
        await ws.send(b"\xff\xfe", text=True)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1007
    assert sunk == ["fine"]


async def test_an_immediate_write_happens_only_when_an_awaited_send_would_not_wait() -> None:
    """A peer that stops reading fills the buffers: the writer then declines (writing nothing)
    exactly when the websocket's own send() would wait, and works again once it drains."""
    reading = asyncio.Event()
    received: list[int] = []

    async def handler(conn: ServerConnection) -> None:
        await reading.wait()
        async for message in conn:
            received.append(len(message))

    chunk = "x" * 65536
    async with serve(handler, "127.0.0.1", 0, max_queue=1, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            write = immediate_writer(SimpleNamespace(_connection=ws))  # type: ignore[arg-type]
            assert write is not None
            accepted = 0
            while write(chunk):
                accepted += 1
                assert accepted < 10_000, "the buffers never filled"
            assert ws.paused  # declined because the transport is above its high-water mark
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ws.send(chunk)), 0.2)  # send() waits too
            reading.set()
            for _ in range(500):
                if not ws.paused:
                    break
                await asyncio.sleep(0.01)
            assert write(chunk)
            expected = accepted + 2  # the shielded send() completes once drained
            for _ in range(500):
                if len(received) >= expected:
                    break
                await asyncio.sleep(0.01)
            assert received == [len(chunk)] * expected
        assert not write(chunk)  # closed: nothing is written
