"""One error tree for Luna, mapped to HTTP, TwiML or a tool result only at the edges.

    LunaError
    ├── InvalidInput      the caller's arguments are wrong (400 / 422)
    │   └── Ambiguous     a name matched several things; ask which (409, with candidates)
    ├── Unauthorized      no or unknown credentials (401)
    ├── Forbidden         known caller, not allowed (403)
    ├── NotFound          no such thing in the caller's household (404)
    ├── Conflict          the thing exists or changed meanwhile (409)
    ├── RateLimited       too many requests for now (429)
    ├── Upstream          a provider (OpenAI, Twilio, CalDAV ...) failed (502)
    └── Unavailable       a feature is not configured or reachable here (503)
"""

from __future__ import annotations

from typing import ClassVar


class LunaError(Exception):
    """Base of every error Luna raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class InvalidInput(LunaError):
    code = "invalid_input"
    http_status = 422


class Unauthorized(LunaError):
    code = "unauthorized"
    http_status = 401


class Forbidden(LunaError):
    code = "forbidden"
    http_status = 403


class NotFound(LunaError):
    code = "not_found"
    http_status = 404


class Conflict(LunaError):
    code = "conflict"
    http_status = 409


class Upstream(LunaError):
    code = "upstream_error"
    http_status = 502


class RateLimited(LunaError):
    code = "rate_limited"
    http_status = 429


class Unavailable(LunaError):
    code = "unavailable"
    http_status = 503


class Ambiguous(InvalidInput):
    """A name matched more than one thing; the caller should ask which one."""

    code = "ambiguous"
    http_status = 409

    def __init__(self, detail: str, candidates: list[str]) -> None:
        super().__init__(detail)
        self.candidates = candidates
