"""The WebSocket protocol `luna serve` runs: uvicorn's websockets-sansio plus direct receive.

A phone call's Media Stream sends 50 small frames a second. Under plain ASGI each one is put
on a queue, wakes the app's task and climbs back through every middleware's coroutine before
the bridge sees it; that hand-off costs more than parsing the frame. With the `DIRECT_RECEIVE`
extension an app hands the server a sink, and every later message goes to it straight from
the socket's read callback. Disconnects (and anything the app does not take over) still come
through `receive()`, so the ASGI contract for the rest of the connection is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets always builds its C speedups on CPython
    from websockets.utils import apply_mask

DIRECT_RECEIVE = "luna.direct_receive"
"""ASGI extension key: `scope["extensions"][DIRECT_RECEIVE]["attach"](sink)`, and
`...["send"](*texts) -> bool`, which writes text messages at once, in one write, when the
socket takes them without waiting (False: nothing written, use the ASGI send)."""

Sink = Callable[[str | bytes], None]
UVICORN_WS = f"{__name__}:DirectWebSocketProtocol"
"""uvicorn's `ws` option for this protocol (`luna serve`, the protocol tests, the benches)."""
log = logging.getLogger("uvicorn.error")


def _extension(scope: dict[str, Any] | Any, name: str) -> Any:
    direct = (scope.get("extensions") or {}).get(DIRECT_RECEIVE)
    fn = direct.get(name) if isinstance(direct, dict) else None
    return fn if callable(fn) else None


def direct_receive(scope: dict[str, Any] | Any) -> Callable[[Sink], None] | None:
    """The server's attach function for this connection, or None (another server, a test
    client): then messages come through `receive()` as usual."""
    attach: Callable[[Sink], None] | None = _extension(scope, "attach")
    return attach


def direct_send(scope: dict[str, Any] | Any) -> Callable[..., bool] | None:
    """The server's immediate send for this connection, or None (then the ASGI send)."""
    send: Callable[..., bool] | None = _extension(scope, "send")
    return send


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with the `DIRECT_RECEIVE` extension.

    A sink runs inside the read callback: it must not block or await. One that raises loses
    that message only (logged); the connection goes on.

    Frames are cut from the byte stream here, and a whole, unfragmented, masked text or binary
    frame for a sink is unmasked and delivered without websockets' generator-based parser,
    which costs several times more per small frame. Every other frame (control frames, parts
    of a fragmented message, anything malformed, oversized or after the close) goes to
    websockets whole, so its parser always stands at a frame boundary and the protocol's
    rules, errors and close codes stay websockets' own.
    """

    _sink: Sink | None = None
    _framing = False
    """The bytes since the handshake request are known to start at a frame boundary."""
    _partial = b""

    def data_received(self, data: bytes) -> None:
        if not self._framing:
            requested = self.handshake_initiated
            super().data_received(data)
            # Frames are cut here only from a clean start: nothing after the request reached
            # websockets' parser first. (A client may not send frames before the server's
            # handshake response, RFC 6455 §4.1; one that does keeps websockets' framing.)
            if not requested and self.handshake_initiated and not self.conn.reader.buffer:
                self._framing = True
            return
        if self._partial:
            data = self._partial + data
            self._partial = b""
        end = len(data)
        pos = 0
        while pos < end:
            size = _frame_size(data, pos, end)
            if size is None or pos + size > end:
                if size is not None and size > self._most_buffered():
                    # Too big to hold here: websockets reads it (and refuses it) as it comes.
                    self._framing = False
                    super().data_received(data[pos:])
                    return
                self._partial = data[pos:]
                return
            frame_end = pos + size
            if not self._fast(data, pos, frame_end):
                super().data_received(data[pos:frame_end])
            pos = frame_end

    def _most_buffered(self) -> int:
        most = self.conn.max_message_size
        return (most if most is not None else 1 << 20) + 14

    def _fast(self, data: bytes, pos: int, end: int) -> bool:
        """Deliver one whole frame to the sink if it is a plain data frame; else False."""
        sink = self._sink
        conn = self.conn
        b0, b1 = data[pos], data[pos + 1]
        if (sink is None or self.close_sent or b0 & 0xF0 != 0x80 or not b1 & 0x80
                or conn.state is not State.OPEN or conn.current_size is not None
                or conn.extensions):
            return False
        opcode = b0 & 0x0F
        if opcode != 1 and opcode != 2:  # text, binary
            return False
        head = 2 if b1 & 0x7F < 126 else 4 if b1 & 0x7F == 126 else 10
        most = conn.max_message_size
        if most is not None and end - pos - head - 4 > most:
            return False
        payload = apply_mask(data[pos + head + 4:end], data[pos + head:pos + head + 4])
        if opcode == 2:
            self._deliver(sink, payload)
        else:
            self._deliver_text(sink, payload)
        return True

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: Any = getattr(self, "scope", None)
        if scope is not None:  # None when the handshake was refused
            scope["extensions"][DIRECT_RECEIVE] = {"attach": self._attach,
                                                   "send": self._send_now}

    def _attach(self, sink: Sink) -> None:
        self._sink = sink
        # What arrived before the app attached is handed over first, in order; a disconnect
        # already queued stays for receive().
        kept = []
        while not self.queue.empty():
            msg: Any = self.queue.get_nowait()
            if msg["type"] == "websocket.receive":
                self._deliver(sink, msg["text"] if msg.get("text") is not None else msg["bytes"])
            else:
                kept.append(msg)
        for msg in kept:
            self.queue.put_nowait(msg)
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def _send_now(self, *texts: str) -> bool:
        # What the ASGI send would check before writing, and its wait for a drained buffer.
        if (self.close_sent or self.disconnected or not self.handshake_complete
                or self.initial_response is not None or not self.writable.is_set()
                or self.conn.state is not State.OPEN or self.transport.is_closing()):
            return False
        for text in texts:
            self.conn.send_text(text.encode())
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def send_receive_event_to_app(self) -> None:
        sink = self._sink
        if sink is None or self.close_sent:
            super().send_receive_event_to_app()
            return
        frames = self.frames
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        self.frames = []
        if self.curr_msg_data_type == "text":
            self._deliver_text(sink, data)
        else:
            self._deliver(sink, bytes(data))

    def _deliver_text(self, sink: Sink, data: bytes) -> None:
        try:
            text = data.decode()
        except UnicodeDecodeError:  # as uvicorn answers it
            log.warning("Invalid UTF-8 sequence received from client.")
            self.conn.send_close(1007)
            self.handle_parser_exception()
            return
        self._deliver(sink, text)

    @staticmethod
    def _deliver(sink: Sink, message: str | bytes) -> None:
        try:
            sink(message)
        except Exception:
            log.exception("A WebSocket message sink failed; the message is dropped.")


def _frame_size(data: bytes, pos: int, end: int) -> int | None:
    """The whole size of the WebSocket frame starting at `pos`, or None if its header is not
    all here yet."""
    if end - pos < 2:
        return None
    b1 = data[pos + 1]
    length = b1 & 0x7F
    head = 2
    if length == 126:
        if end - pos < 4:
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        head = 4
    elif length == 127:
        if end - pos < 10:
            return None
        length = int.from_bytes(data[pos + 2:pos + 10], "big")
        head = 10
    return head + (4 if b1 & 0x80 else 0) + length
