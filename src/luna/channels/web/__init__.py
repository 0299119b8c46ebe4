"""The family dashboard: server-rendered pages (Jinja2), htmx and a little vendored JS.

`install(app, settings)` mounts it on the FastAPI app: pages, forms, login, static files, the
cross-site check for cookie-authenticated writes and the security headers of every page.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luna.channels.web import forms, login, pages
from luna.channels.web.render import HERE, TEMPLATES, realtime_origin
from luna.channels.web.session import LoginRequired, OriginCheck, login_redirect
from luna.config import Settings
from luna.errors import LunaError


def content_security_policy(settings: Settings) -> str:
    # Only Luna's own scripts run; the browser may talk to Luna and to the Realtime endpoint.
    connect = f"'self' {realtime_origin(settings.openai_realtime_base_url)}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; media-src 'self' blob: mediastream:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


class SecurityHeaders:
    """Every HTML page gets the CSP and friends; JSON answers are left alone."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    names = {k.lower() for k, _ in headers}
                    headers += [(k, v) for k, v in self.headers if k not in names]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_TITLES = {403: "Not allowed", 404: "Not found", 409: "That changed meanwhile"}


def install(app: FastAPI, settings: Settings) -> None:
    as_json = app.exception_handlers.get(LunaError)

    async def to_login(request: Request, _exc: Exception) -> Response:
        return login_redirect(request)

    async def luna_error(request: Request, exc: Exception) -> Response:
        # Pages answer a person with a page; /api and scripts keep the JSON error body.
        wants_html = "text/html" in request.headers.get("accept", "")
        if as_json is not None and (request.url.path.startswith("/api/") or not wants_html):
            answer = as_json(request, exc)
            return answer if isinstance(answer, Response) else await answer
        assert isinstance(exc, LunaError)
        title = _TITLES.get(exc.http_status, "Something went wrong")
        return TEMPLATES.TemplateResponse(
            request, "error.html", {"title": title, "detail": exc.detail},
            status_code=exc.http_status,
        )

    app.add_exception_handler(LunaError, luna_error)
    app.add_exception_handler(LoginRequired, to_login)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (login.router, pages.router, forms.router):
        app.include_router(router)
    app.add_middleware(SecurityHeaders, csp=content_security_policy(settings))
    app.add_middleware(OriginCheck, public_url=settings.public_url)
