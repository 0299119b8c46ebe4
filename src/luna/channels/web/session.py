"""Dashboard logins: a member's token (the link `luna serve` prints) becomes a session cookie.

The cookie holds a fresh API token minted for this browser, stored hashed like every token, so
`deps.get_actor` accepts it for /api calls too and logging out revokes exactly this session.
Cross-site requests riding on the cookie are refused by `OriginCheck`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from luna.channels.api.deps import get_services, get_settings
from luna.errors import LunaError, Unauthorized
from luna.services.access import Actor
from luna.services.members import MemberOut

SESSION_COOKIE = "luna_session"
SESSION_DAYS = 30
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SESSION_PATHS = frozenset({"/login", "/logout"})


class LoginRequired(LunaError):
    """No valid session: a page answers with a redirect to the login page."""

    code = "login_required"
    http_status = 401


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings(request).public_url.startswith("https:")


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_DAYS * 86400, httponly=True, samesite="lax",
        secure=secure_cookies(request), path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


async def web_actor(request: Request) -> Actor:
    """The member behind the session cookie; pages without one send the browser to /login."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired("please log in")
    try:
        actor = await get_services(request).members.authenticate(token)
    except Unauthorized as exc:
        raise LoginRequired("your session has ended; please log in again") from exc
    if actor.household_id is None or actor.member_id is None:
        raise LoginRequired("log in with a member's link")
    return actor


async def web_member(
    request: Request, actor: Annotated[Actor, Depends(web_actor)]
) -> MemberOut:
    assert actor.member_id is not None
    return await get_services(request).members.get(actor, actor.member_id)


WebActorDep = Annotated[Actor, Depends(web_actor)]
WebMemberDep = Annotated[MemberOut, Depends(web_member)]


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return Response(status_code=303, headers={"Location": location})


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/overview"
    return target


def _origin(value: str) -> tuple[str, str] | None:
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme, parts.netloc.lower()


class OriginCheck:
    """A state-changing request that a cookie authenticates must come from Luna's own pages.

    Browsers send Origin on every POST (and Sec-Fetch-Site), so a form or fetch on another site
    that rides on the SameSite=Lax cookie is refused here. Requests with a bearer token carry
    no ambient authority and pass untouched.
    """

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.public = _origin(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        has_cookie = f"{SESSION_COOKIE}=" in headers.get("cookie", "")
        # Logging someone in or out from another site is refused too (login CSRF).
        guarded = has_cookie or scope["path"] in SESSION_PATHS
        if not guarded or "authorization" in headers or self._same_origin(headers):
            await self.app(scope, receive, send)
            return
        response = Response(
            '{"error": "forbidden", "detail": "cross-site request refused"}', status_code=403,
            media_type="application/json",
        )
        await response(scope, receive, send)

    def _same_origin(self, headers: dict[str, str]) -> bool:
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        claimed = headers.get("origin") or headers.get("referer")
        if not claimed:
            return site == "same-origin"
        origin = _origin(claimed)
        if origin is None:
            return False
        return origin[1] == headers.get("host", "").lower() or origin == self.public
