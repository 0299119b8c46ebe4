"""HTTP client for an external chore tracker that speaks Luna's /api/chores contract.

Every failure, from a refused connection to a 404, comes out as luna.errors.Upstream with a
sentence the assistant can repeat; the token never appears in one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from luna.errors import Upstream


class ChoreAppRefused(Upstream):
    """The chore app answered, with an HTTP error."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class ChoreAppClient:
    def __init__(
        self,
        base_url: str,
        token: SecretStr | None,
        timeout_s: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc.rsplit("@", 1)[-1] or self.base_url
        self.timeout_s = timeout_s
        self._token = token
        self._transport = transport

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._request("POST", path, body=body)

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=httpx.Timeout(self.timeout_s),
                transport=self._transport, follow_redirects=False,
            ) as client:
                response = await client.request(method, path, params=clean, json=body,
                                                headers=headers)
        except httpx.TimeoutException as exc:
            raise Upstream(
                f"the chore app at {self.host} did not answer within {self.timeout_s:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise Upstream(
                f"the chore app at {self.host} is unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 400:
            raise ChoreAppRefused(self._explain(response), response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise Upstream(f"the chore app at {self.host} answered with something other than "
                           "JSON") from exc

    def _explain(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403):
            return (f"the chore app at {self.host} refused Luna's token (HTTP {status}); "
                    "check LUNA_CHORE_APP_TOKEN")
        detail = _detail(response)
        if detail:
            return f"the chore app at {self.host} says: {detail} (HTTP {status})"
        return f"the chore app at {self.host} failed (HTTP {status})"


def _detail(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])[:300]
    return None
