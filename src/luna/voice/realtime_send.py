"""How the caller's audio reaches OpenAI: appends written onto the SDK connection's websocket.

The SDK's `send_raw` admits each message through its reconnect queue (a queue check, a receipt
and anyio's task lookup), which costs as much CPU as the websocket send itself, 17 appends a
second per call. Luna never enables the SDK's own reconnect (a dropped session is rebuilt by the
bridge), so that queue is always empty and going past it cannot reorder anything; every other
event still goes through `send_raw`.

`immediate_writer` goes one step further for a caller that cannot await (the server's read
callback, see direct_receive): it writes a message at once when an awaited send would not have
waited either, and otherwise says so, so the caller sends the awaited way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.protocol import State

Write = Callable[[str], bool]


def _reconnects(conn: AsyncRealtimeConnection) -> bool:
    """Whether the SDK itself may reconnect this socket (and so queue sends meanwhile)."""
    return getattr(conn, "_on_reconnecting", None) is not None


def audio_sender(conn: AsyncRealtimeConnection) -> Callable[[str], Awaitable[None]]:
    """An awaited send of one text message: the websocket's own, or the SDK's when it queues."""
    send = getattr(getattr(conn, "_connection", None), "send", None)
    return send if callable(send) and not _reconnects(conn) else conn.send_raw


def immediate_writer(conn: AsyncRealtimeConnection) -> Write | None:
    """A synchronous write of one text message, or None when this connection has no such path.

    The write returns False, writing nothing, unless the socket is open, no fragmented message
    is half sent and the transport's buffer is below its high-water mark: exactly when the
    websocket's `send()` would have written at once and returned without waiting. A write onto
    a transport that fails is audio lost, as with `send()`: the reader sees the socket drop.
    """
    if _reconnects(conn):
        return None
    ws: Any = getattr(conn, "_connection", None)
    protocol: Any = getattr(ws, "protocol", None)
    if not all(hasattr(ws, a) for a in ("send_in_progress", "paused", "transport", "send_data")) \
            or not callable(getattr(protocol, "send_text", None)):
        return None
    transport = ws.transport
    send_data = ws.send_data
    send_text = protocol.send_text

    def write(text: str) -> bool:
        if (ws.send_in_progress is not None or ws.paused or protocol.state is not State.OPEN
                or transport.is_closing()):
            return False
        send_text(text.encode())
        try:
            send_data()
        except Exception:  # noqa: S110 - see the docstring: lost audio, found by the reader
            pass
        return True

    return write
