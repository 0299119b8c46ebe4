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

DIRECT_RECEIVE = "luna.direct_receive"
"""ASGI extension key: `scope["extensions"][DIRECT_RECEIVE]["attach"](sink)`."""

Sink = Callable[[str | bytes], None]
UVICORN_WS = f"{__name__}:DirectWebSocketProtocol"
"""uvicorn's `ws` option for this protocol (`luna serve`, the protocol tests, the benches)."""
log = logging.getLogger("uvicorn.error")


def direct_receive(scope: dict[str, Any] | Any) -> Callable[[Sink], None] | None:
    """The server's attach function for this connection, or None (another server, a test
    client): then messages come through `receive()` as usual."""
    ext = scope.get("extensions") or {}
    direct = ext.get(DIRECT_RECEIVE)
    attach = direct.get("attach") if isinstance(direct, dict) else None
    return attach if callable(attach) else None


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with the `DIRECT_RECEIVE` extension.

    A sink runs inside the read callback: it must not block or await. One that raises loses
    that message only (logged); the connection goes on.
    """

    _sink: Sink | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: Any = getattr(self, "scope", None)
        if scope is not None:  # None when the handshake was refused
            scope["extensions"][DIRECT_RECEIVE] = {"attach": self._attach}

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

    def send_receive_event_to_app(self) -> None:
        sink = self._sink
        if sink is None or self.close_sent:
            super().send_receive_event_to_app()
            return
        frames = self.frames
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        self.frames = []
        if self.curr_msg_data_type == "text":
            try:
                text = data.decode()
            except UnicodeDecodeError:
                log.warning("Invalid UTF-8 sequence received from client.")
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
            self._deliver(sink, text)
        else:
            self._deliver(sink, bytes(data))

    @staticmethod
    def _deliver(sink: Sink, message: str | bytes) -> None:
        try:
            sink(message)
        except Exception:
            log.exception("A WebSocket message sink failed; the message is dropped.")
