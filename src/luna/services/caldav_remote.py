"""One household calendar on a CalDAV server, through the (blocking) caldav client library.

Every method blocks: the sync calls them through asyncio.to_thread. Failures come out as
luna.errors.Upstream with the server's address, never its credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from caldav.calendarobjectresource import Event as DavEvent
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.lib import error as dav_error
from pydantic import BaseModel, ConfigDict, SecretStr

from luna.errors import Upstream

T = TypeVar("T")


class CalDavConfig(BaseModel):
    """Where a household's calendar lives: the URL of the calendar collection itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    username: str | None = None
    password: SecretStr | None = None
    auth_type: Literal["basic", "digest", "bearer"] | None = "basic"
    """Pinned, so the client needn't spend a refused request finding out."""
    timeout_s: float = 20.0

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)


@dataclass(frozen=True, slots=True)
class RemoteObject:
    href: str
    etag: str | None
    data: str


class ChangedOnServer(Upstream):
    """The object changed on the server since it was read (an ETag precondition failed)."""


def safe_url(url: str) -> str:
    """The URL without any user:password@ in it, for logs and error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class RemoteCalendar:
    def __init__(self, config: CalDavConfig) -> None:
        self.config = config
        # Credentials written into the URL move to their own arguments: the library logs URLs.
        parts = urlsplit(config.url)
        clean = safe_url(config.url)
        self.url = clean if clean.endswith("/") else clean + "/"
        username = config.username or (unquote(parts.username) if parts.username else None)
        password = config.password.get_secret_value() if config.password else (
            unquote(parts.password) if parts.password else None
        )
        self._client = DAVClient(
            url=self.url, username=username, password=password,
            auth_type=config.auth_type if username else None,
            timeout=max(1, round(config.timeout_s)), enable_rfc6764=False,
        )
        self._calendar = Calendar(client=self._client, url=self.url)

    def list(self) -> list[RemoteObject]:
        """Every event object on the calendar, with its ETag."""

        def fetch() -> list[RemoteObject]:
            # The library types props as calendar-data only; any DAV property works.
            found: Any = self._calendar.search(
                comp_class=DavEvent, props=[dav.GetEtag()]  # type: ignore[list-item]
            )
            out = []
            for obj in found:
                props: dict[str, Any] = getattr(obj, "props", None) or {}
                etag = props.get(dav.GetEtag.tag)
                out.append(RemoteObject(href=str(obj.url), etag=str(etag) if etag else None,
                                        data=str(obj.data)))
            return out

        return self._call("read the calendar", fetch)

    def href_for(self, uid: str) -> str:
        return self.url + quote(uid.replace("/", "_"), safe="@.-_") + ".ics"

    def put(self, href: str, data: str, etag: str | None) -> str | None:
        """Create (no `etag`) or replace (only if still at `etag`) an object; its new ETag."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers["If-Match" if etag else "If-None-Match"] = etag or "*"

        def send() -> str | None:
            response = self._client.put(href, data, headers)
            _check(response.status, "store an event")
            new = response.headers.get("etag") if response.headers else None
            return str(new) if new else None

        return self._call("store an event", send)

    def delete(self, href: str, etag: str | None) -> None:
        headers = {"If-Match": etag} if etag else {}

        def send() -> None:
            response = self._client.delete(href, headers)
            if response.status != 404:  # already gone is what we wanted
                _check(response.status, "delete an event")

        self._call("delete an event", send)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Upstream:
            raise
        except dav_error.AuthorizationError as exc:
            raise Upstream(
                f"the CalDAV server at {self.config.safe_url} refused the credentials"
            ) from exc
        except dav_error.NotFoundError as exc:
            raise Upstream(f"no calendar at {self.config.safe_url}") from exc
        except Exception as exc:
            # The library raises its own errors, niquests' and OSError alike; all mean the same.
            raise Upstream(
                f"could not {what} on the CalDAV server at {self.config.safe_url}: "
                f"{type(exc).__name__}"
            ) from exc


def _check(status: int, what: str) -> None:
    if status == 412:
        raise ChangedOnServer(f"the event changed on the server while trying to {what}")
    if status in (401, 403):
        raise Upstream(f"the CalDAV server refused to {what} (HTTP {status})")
    if not 200 <= status < 300:
        raise Upstream(f"the CalDAV server could not {what} (HTTP {status})")
