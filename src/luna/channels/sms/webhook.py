"""Twilio's SMS webhooks: an incoming text, and delivery status of the texts Luna sent.

The paths are those of the system Luna replaces, so a Twilio number keeps working.

Every text a household sends comes through here, so the two webhooks are answered by a small
ASGI endpoint in front of FastAPI's router: routing past a hundred routes, dependency solving and
the request object cost about 0.4 ms a text, more than its three database statements together.
They still run inside the app's middleware (the cross-site check), and Luna's errors answer as
the API's do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import structlog
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from twilio.twiml.messaging_response import MessagingResponse

from luna.channels.api.errors import error_response
from luna.channels.sms.inbound import InboundSms, SmsChannel
from luna.channels.sms.signature import NOT_SIGNED, signature_holds
from luna.errors import Forbidden, LunaError

log = structlog.get_logger(__name__)

PREFIX = "/assistant/webhooks/sms"
INCOMING_PATH = f"{PREFIX}/incoming"
STATUS_PATH = f"{PREFIX}/status"
MAX_BODY_BYTES = 64 * 1024
"""Twilio's form for a 1,600-character text with ten media links is under 8 KiB."""
TWIML = "application/xml"
FORM = "application/x-www-form-urlencoded"


def _envelope() -> tuple[str, str, str]:
    """The library's TwiML for no reply, and around a reply's text, rendered once."""
    mark = "\x1fREPLY\x1f"
    r = MessagingResponse()
    r.message(mark)
    head, _, tail = str(r).partition(mark)
    return str(MessagingResponse()), head, tail


_EMPTY, _HEAD, _TAIL = _envelope()


def twiml(reply: str | None) -> Response:
    """What MessagingResponse renders (a test holds it to that), without building an XML tree
    for every text."""
    body = f"{_HEAD}{escape(reply)}{_TAIL}" if reply else _EMPTY
    return Response(body, media_type=TWIML)


def sms_channel(app: Any) -> SmsChannel:
    channel: SmsChannel | None = getattr(app.state, "sms", None)
    if channel is None:
        raise RuntimeError("the SMS channel is started by the app's lifespan")
    return channel


async def incoming(app: Any, form: FormData) -> Response:
    """A member's text: the reply inline as TwiML, or empty TwiML when it follows later."""
    sms = InboundSms.from_form({k: str(v) for k, v in form.items()})
    reply = await sms_channel(app).receive(app.state.brain, sms)
    return twiml(reply)


async def status(app: Any, form: FormData) -> Response:
    """Twilio's delivery report for a text Luna sent."""
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    state = str(form.get("MessageStatus") or form.get("SmsStatus") or "")
    changed = bool(sid and state) and await sms_channel(app).inbox.update_delivery(sid, state)
    log.info("sms_status", sid=sid, status=state, error_code=form.get("ErrorCode"),
             applied=changed)
    return Response(status_code=204)


Handler = Callable[[Any, FormData], Awaitable[Response]]
HANDLERS: dict[str, Handler] = {INCOMING_PATH: incoming, STATUS_PATH: status}


class TooLarge(Exception):
    """The body passed MAX_BODY_BYTES."""


class SmsWebhooks:
    """POST /assistant/webhooks/sms/{incoming,status}, answered before the router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = HANDLERS.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        response = await self._answer(handler, scope, receive)
        await response(scope, receive, send)

    async def _answer(self, handler: Handler, scope: Scope, receive: Receive) -> Response:
        if scope["method"] != "POST":
            return JSONResponse({"error": "method_not_allowed", "detail": "Method Not Allowed"},
                                405, headers={"Allow": "POST"})
        headers = Headers(scope=scope)
        try:
            body = await _body(receive)
        except TooLarge:
            return JSONResponse({"error": "too_large", "detail": "the request body is too large"},
                                413)
        pairs: list[tuple[str, str | UploadFile]] = []
        if headers.get("content-type", "").startswith(FORM):
            pairs.extend(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        form = FormData(pairs)
        app = scope["app"]
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            if not signature_holds(app.state.settings, scope["path"], query, form, headers):
                raise Forbidden(NOT_SIGNED)
            return await handler(app, form)
        except LunaError as exc:
            return error_response(exc)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
