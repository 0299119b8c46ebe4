"""Web search providers behind one small port: a self-hosted SearXNG, or the Brave Search API.

Both are plain JSON over HTTP; failures come out as luna.errors.Upstream, never with the key.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from luna.config import Settings
from luna.errors import Upstream

MAX_RESULTS = 5
MAX_SNIPPET = 400
BRAVE_API = "https://api.search.brave.com"


class SearchHit(BaseModel):
    title: str
    url: str
    snippet: str


class WebSearchResult(BaseModel):
    query: str
    provider: str
    results: list[SearchHit]


class WebSearch(Protocol):
    name: str

    async def search(self, query: str, limit: int = MAX_RESULTS) -> WebSearchResult: ...


class _JsonSearch:
    """The shared HTTP part: one GET, JSON back, errors worded for the assistant."""

    name = "search"

    def __init__(self, base_url: str, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc.rsplit("@", 1)[-1]
        self.timeout_s = timeout_s
        self._transport = transport

    async def _get(self, path: str, params: dict[str, Any], headers: dict[str, str]) -> Any:
        try:
            async with httpx.AsyncClient(base_url=self.base_url, transport=self._transport,
                                         timeout=httpx.Timeout(self.timeout_s)) as client:
                response = await client.get(path, params=params,
                                            headers={"Accept": "application/json", **headers})
        except httpx.TimeoutException as exc:
            raise Upstream(f"web search ({self.name}) did not answer within "
                           f"{self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise Upstream(f"web search ({self.name}) at {self.host} is unreachable") from exc
        if response.status_code in (401, 403):
            raise Upstream(f"web search ({self.name}) refused the API key "
                           f"(HTTP {response.status_code})")
        if response.status_code == 429:
            raise Upstream(f"web search ({self.name}) is rate limited; try again later")
        if response.status_code >= 400:
            raise Upstream(f"web search ({self.name}) failed (HTTP {response.status_code})")
        try:
            return response.json()
        except ValueError as exc:
            raise Upstream(f"web search ({self.name}) answered with something other than "
                           "JSON") from exc


def _hits(rows: Any, snippet_key: str, limit: int) -> list[SearchHit]:
    out: list[SearchHit] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not row.get("url"):
            continue
        out.append(SearchHit(
            title=str(row.get("title") or row["url"])[:300], url=str(row["url"]),
            snippet=" ".join(str(row.get(snippet_key) or "").split())[:MAX_SNIPPET],
        ))
        if len(out) >= limit:
            break
    return out


class SearxngSearch(_JsonSearch):
    """A SearXNG instance with its JSON output format enabled."""

    name = "searxng"

    async def search(self, query: str, limit: int = MAX_RESULTS) -> WebSearchResult:
        body = await self._get("/search", {"q": query, "format": "json"}, {})
        rows = body.get("results") if isinstance(body, dict) else None
        return WebSearchResult(query=query, provider=self.name,
                               results=_hits(rows, "content", limit))


class BraveSearch(_JsonSearch):
    name = "brave"

    def __init__(self, api_key: str, base_url: str, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, timeout_s, transport)
        self._key = api_key

    async def search(self, query: str, limit: int = MAX_RESULTS) -> WebSearchResult:
        body = await self._get("/res/v1/web/search", {"q": query, "count": limit},
                               {"X-Subscription-Token": self._key})
        web = body.get("web") if isinstance(body, dict) else None
        rows = web.get("results") if isinstance(web, dict) else None
        return WebSearchResult(query=query, provider=self.name,
                               results=_hits(rows, "description", limit))


def build_web_search(settings: Settings) -> WebSearch | None:
    """The configured provider, or None: then the assistant has no web_search tool at all."""
    provider = settings.web_search_provider
    if provider == "searxng" and settings.web_search_url:
        return SearxngSearch(settings.web_search_url, settings.web_search_timeout_s)
    if provider == "brave" and settings.web_search_api_key is not None:
        return BraveSearch(settings.web_search_api_key.get_secret_value(),
                           settings.web_search_url or BRAVE_API, settings.web_search_timeout_s)
    return None
