"""The web_search tool: absent without a provider; with one, it searches a local fake of the
provider's JSON API on 127.0.0.1, and the provider's failures are clear tool errors."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from luna.channels.app import create_app
from luna.config import load_settings
from luna.services.container import Services
from luna.tools import catalog
from tests.conftest import ADMIN_TOKEN, Family, make_family

BRAVE_KEY = "brave-test-key"


@dataclass
class FakeSearch:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def fake_search() -> Iterator[FakeSearch]:
    state = FakeSearch(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state.requests.append({"path": parts.path, "query": query,
                                   "key": self.headers.get("X-Subscription-Token")})
            rows = [{"title": f"Result {i} for {query.get('q')}", "url": f"https://ex.org/{i}",
                     "content": f"snippet  {i}\n", "description": f"brave {i}"}
                    for i in range(8)]
            body: Any = {"results": rows} if parts.path == "/search" else {"web": {"results": rows}}
            data = json.dumps(body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class App:
    client: httpx.AsyncClient
    family: Family

    async def tools(self) -> list[str]:
        r = await self.client.get("/api/tools", headers=self.family.headers())
        assert r.status_code == 200, r.text
        return [t["name"] for t in r.json()]

    async def search(self, query: str) -> httpx.Response:
        return await self.client.post("/api/tools/web_search", headers=self.family.headers(),
                                      json={"arguments": {"query": query}})


async def _app(services: Services, **overrides: Any) -> AsyncIterator[App]:
    settings = load_settings(env="test", admin_token=ADMIN_TOKEN,
                             database_url="sqlite+aiosqlite://", **overrides)
    app = create_app(settings, services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        yield App(client, await make_family(client))


async def test_without_a_provider_there_is_no_web_search_tool(
    client: httpx.AsyncClient, family: Family
) -> None:
    r = await client.get("/api/tools", headers=family.headers())
    assert "web_search" not in [t["name"] for t in r.json()]
    r = await client.post("/api/tools/web_search", headers=family.headers(),
                          json={"arguments": {"query": "weather"}})
    assert r.status_code == 404
    assert "web_search" not in catalog.load()
    assert "web_search" not in catalog.load(load_settings(web_search_provider=None))


async def test_searxng_provider_adds_the_tool_and_searches(
    services: Services, fake_search: FakeSearch
) -> None:
    async for app in _app(services, web_search_provider="searxng",
                          web_search_url=fake_search.url):
        names = await app.tools()
        assert "web_search" in names and "get_schedule" in names  # added, nothing lost
        r = await app.search("  library   opening hours ")
        body = r.json()
        assert body["ok"] is True, body
        result = body["result"]
        assert result["provider"] == "searxng" and result["query"] == "library opening hours"
        assert len(result["results"]) == 5
        assert result["results"][0] == {"title": "Result 0 for library opening hours",
                                        "url": "https://ex.org/0", "snippet": "snippet 0"}
        assert fake_search.requests[-1]["query"] == {"q": "library opening hours",
                                                     "format": "json"}
        bad = (await app.search("   ")).json()
        assert bad["ok"] is False and bad["error"] == "invalid_input"

        fake_search.status = 500
        failed = (await app.search("anything")).json()
        assert failed["ok"] is False and failed["error"] == "upstream_error"
        assert "HTTP 500" in failed["detail"]


async def test_brave_provider_sends_its_key_and_reads_its_shape(
    services: Services, fake_search: FakeSearch
) -> None:
    async for app in _app(services, web_search_provider="brave", web_search_url=fake_search.url,
                          web_search_api_key=BRAVE_KEY):
        body = (await app.search("school holidays")).json()
        assert body["ok"] is True, body
        assert body["result"]["results"][1]["snippet"] == "brave 1"
        req = fake_search.requests[-1]
        assert req["path"] == "/res/v1/web/search" and req["key"] == BRAVE_KEY
        fake_search.status = 401
        refused = (await app.search("school holidays")).json()
        assert refused["error"] == "upstream_error" and BRAVE_KEY not in refused["detail"]


async def test_a_provider_that_is_down_is_a_clear_tool_error(services: Services) -> None:
    async for app in _app(services, web_search_provider="searxng",
                          web_search_url="http://127.0.0.1:9"):
        body = (await app.search("news")).json()
        assert body["ok"] is False and body["error"] == "upstream_error"
        assert "unreachable" in body["detail"]


def test_a_provider_without_what_it_needs_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="LUNA_WEB_SEARCH_URL"):
        load_settings(web_search_provider="searxng")
    with pytest.raises(ValueError, match="LUNA_WEB_SEARCH_API_KEY"):
        load_settings(web_search_provider="brave")
