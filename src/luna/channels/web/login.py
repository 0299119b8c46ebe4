"""GET /login?token=… (the one-click link), the paste-a-token form, and logout."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from luna.channels.api.deps import get_services, get_settings
from luna.channels.web.render import render
from luna.channels.web.session import SESSION_COOKIE, clear_session, safe_next, set_session
from luna.errors import Unauthorized

router = APIRouter(include_in_schema=False)

# The token must not leak from the login URL to other sites or linger in the history.
_NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _form(request: Request, error: str | None, next_url: str, status: int) -> HTMLResponse:
    response = render(request, "login.html", {"error": error, "next": next_url}, status)
    response.headers.update(_NO_REFERRER)
    return response


async def _login(request: Request, token: str, next_url: str) -> Response:
    svc = get_services(request)
    token = token.strip()
    admin = get_settings(request).admin_token
    if admin is not None and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()):
        return _form(request, "The admin token manages the server; log in with a member's link "
                     "(`luna token create --member ID`).", next_url, 403)
    try:
        actor = await svc.members.authenticate(token)
    except Unauthorized:
        return _form(request, "That login link or token is not valid (or was revoked).",
                     next_url, 401)
    assert actor.member_id is not None
    # A token of its own per browser: logging out here revokes this session and nothing else.
    session = await svc.members.create_token(actor, actor.member_id, "web session")
    response = RedirectResponse(safe_next(next_url), status_code=303, headers=_NO_REFERRER)
    set_session(response, request, session.token)
    return response


@router.get("/login")
async def login(request: Request, token: str | None = None, next: str | None = None) -> Response:
    next_url = safe_next(next)
    if token:
        return await _login(request, token, next_url)
    return _form(request, None, next_url, 200)


@router.post("/login")
async def login_form(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/overview"
) -> Response:
    return await _login(request, token, safe_next(next))


@router.post("/logout")
async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await get_services(request).members.revoke_own(token)
    response = RedirectResponse("/login", status_code=303)
    clear_session(response)
    return response
