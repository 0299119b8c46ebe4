"""A fake of Twilio's REST Messages API on 127.0.0.1, for the real `TwilioSmsSender` in tests.

    fake = FakeTwilio(account_sid="AC" + "1" * 32, auth_token="secret")
    async with fake as api_base:             # settings.twilio_api_base = api_base
        ...
        async with asyncio.timeout(10):
            sent = await fake.wait_for_messages(1)
        sent[0]["To"], sent[0]["Body"], sent[0]["StatusCallback"]
    fake.assert_clean()

Requests without the account's basic auth answer 401 (Twilio's code 20003), as Twilio does.
`fail_next(400, 21610, "...")` scripts the next send to be refused.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass(frozen=True, slots=True)
class ScriptedFailure:
    status: int
    code: int
    message: str


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Inside a test run the signals belong to pytest, not to this little server.
        yield


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, str]] = []
        self.problems: list[str] = []
        self._failures: list[ScriptedFailure] = []
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.base_url = ""

    def fail_next(self, status: int, code: int, message: str) -> None:
        self._failures.append(ScriptedFailure(status, code, message))

    async def wait_for_messages(self, count: int) -> list[dict[str, str]]:
        """The messages once at least ``count`` arrived (wrap it in ``asyncio.timeout``)."""
        while len(self.messages) < count:
            self._arrived.clear()
            await self._arrived.wait()
        return list(self.messages)

    def assert_clean(self) -> None:
        if self.problems:
            raise AssertionError("fake Twilio: " + "; ".join(self.problems))

    async def __aenter__(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = Starlette(routes=[
            Route("/2010-04-01/Accounts/{account}/Messages.json", self._create,
                  methods=["POST"]),
            Route("/{path:path}", self._unknown, methods=["GET", "POST", "PUT", "DELETE"]),
        ])
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):
            if self._server.started:
                break
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("fake Twilio server did not start")
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=10)
        self._server = self._task = None

    async def _unknown(self, request: Request) -> JSONResponse:
        problem = f"unexpected {request.method} {request.url.path}"
        self.problems.append(problem)
        return _error(404, 20404, f"fake Twilio: {problem}")

    def _authorized(self, request: Request, account: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return account == self.account_sid and (
            request.headers.get("authorization") == f"Basic {expected}"
        )

    async def _create(self, request: Request) -> JSONResponse:
        account = request.path_params["account"]
        if not self._authorized(request, account):
            self.problems.append(f"unauthorized send for account {account}")
            return _error(401, 20003, "Authenticate")
        form = {k: str(v) for k, v in (await request.form()).items()}
        for field in ("To", "Body"):
            if not form.get(field):
                return _error(400, 21602 if field == "Body" else 21604,
                              f"A '{field}' parameter is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if self._failures:
            failure = self._failures.pop(0)
            return _error(failure.status, failure.code, failure.message)
        sid = f"SM{next(self._ids):032x}"
        self.messages.append({**form, "sid": sid})
        self._arrived.set()
        return JSONResponse(_resource(sid, account, form), status_code=201)


def _resource(sid: str, account: str, form: dict[str, str]) -> dict[str, Any]:
    return {
        "sid": sid, "account_sid": account, "to": form["To"], "from": form.get("From"),
        "body": form["Body"], "status": "queued", "num_segments": "1", "num_media": "0",
        "direction": "outbound-api", "api_version": "2010-04-01", "price": None,
        "error_code": None, "error_message": None,
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "status": status,
         "more_info": f"https://www.twilio.com/docs/errors/{code}"},
        status_code=status,
    )
