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

from luna.voice.direct_receive import UVICORN_WS, direct_receive, direct_send
from luna.voice.realtime_send import immediate_writer

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test's loop owns signals
        pass


@asynccontextmanager
async def _serving(app: App, **options: Any) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, ws=UVICORN_WS, lifespan="off", log_level="warning",
                                    **options))
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


def _sink_app(sunk: list[str | bytes], ended: asyncio.Future[str]) -> App:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        attach = direct_receive(scope)
        assert attach is not None
        attach(sunk.append)
        msg = await receive()
        ended.set_result(f"{msg['type']} {msg.get('code')}")
    return app


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
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with _serving(_sink_app(sunk, ended)) as url, connect(url) as ws:
        await ws.send("fine")
        await ws.send(b"\xff\xfe", text=True)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1007
    assert sunk == ["fine"]
    assert (await asyncio.wait_for(ended, 5)).startswith("websocket.disconnect")


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


def _masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = bytes([0x37, 0xFA, 0x21, 0x3D])
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _raw_client(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("ws://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    await writer.drain()
    response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101")
    return reader, writer


@pytest.mark.parametrize("piece", [1, 3, 7, 1 << 20], ids=lambda n: f"{n}-byte-writes")
async def test_frames_split_anywhere_arrive_whole_and_in_order_with_control_frames_between(
    piece: int,
) -> None:
    sunk: list[str | bytes] = []
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stream = b"".join([
        _masked(0x1, b'{"event":"media","n":1}'),
        _masked(0x9, b"ping!"),                       # a ping between data frames
        _masked(0x1, "é".encode() * 200),              # a 16-bit length
        _masked(0x1, b"frag", fin=False),              # a fragmented message ...
        _masked(0xA, b"pong"),                         # ... with a control frame inside it
        _masked(0x0, b"mented", fin=False),
        _masked(0x0, b" text"),
        _masked(0x2, b"\x00\x01\x02"),
        _masked(0x1, b"x" * 70_000),                   # a 64-bit length
        _masked(0x8, (1000).to_bytes(2, "big")),      # close
    ])
    async with _serving(_sink_app(sunk, ended)) as url:
        reader, writer = await _raw_client(url)
        for i in range(0, len(stream), piece):
            writer.write(stream[i:i + piece])
            await writer.drain()
        replies = await asyncio.wait_for(reader.read(), 5)  # until the server closes
        writer.close()
    assert sunk == ['{"event":"media","n":1}', "é" * 200, "fragmented text", b"\x00\x01\x02",
                    "x" * 70_000]
    assert await asyncio.wait_for(ended, 5) == "websocket.disconnect 1000"
    assert replies.startswith(b"\x8a\x05ping!")  # the pong, before the close echo


@pytest.mark.parametrize(("frame", "code"), [
    (b"\x81\x05hello", 1002),  # a client's frame must be masked
    (_masked(0x1, b"y" * (2 << 20))[:4096], 1009),  # its header says 2 MiB, over ws_max_size
], ids=["unmasked", "oversized"])
async def test_a_frame_websockets_would_refuse_is_refused_with_its_close_code(
    frame: bytes, code: int
) -> None:
    sunk: list[str | bytes] = []
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with _serving(_sink_app(sunk, ended), ws_max_size=1 << 20) as url:
        reader, writer = await _raw_client(url)
        writer.write(_masked(0x1, b"before") + frame)
        await writer.drain()
        close = await asyncio.wait_for(reader.readexactly(4), 5)
        writer.close()
    assert sunk == ["before"]
    assert close[:1] == b"\x88" and int.from_bytes(close[2:4], "big") == code
    assert (await asyncio.wait_for(ended, 5)).startswith("websocket.disconnect")


async def test_an_immediate_send_writes_several_messages_in_order_and_nothing_once_closed(
) -> None:
    results: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        send_now = direct_send(scope)
        assert send_now is not None
        sent = [send_now("one", "two"), send_now("three")]
        await receive()  # the client's close
        sent.append(send_now("after the close"))
        results.set_result(sent)

    async with _serving(app) as url, connect(url) as ws:
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]
    assert got == ["one", "two", "three"]
    assert await asyncio.wait_for(results, 5) == [True, True, False]
