"""A scripted OpenAI-compatible chat server on 127.0.0.1, for driving the real SDK in tests.

    fake = FakeOpenAI([calls(call("create_task", title="Milk")), reply("Added milk!")])
    async with fake as base_url:
        client = AsyncOpenAI(api_key="sk-test", base_url=base_url)
        ...
    fake.assert_complete()
    fake.requests[1]["messages"][-1]   # the tool result the model was sent

Each POST /v1/chat/completions consumes the next step. A request past the end of the script
answers 500 with a message saying so (and fails `assert_complete()`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_USAGE: Mapping[str, int] = {"prompt_tokens": 100, "completion_tokens": 20,
                                    "cached_tokens": 0}


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    """A dict (sent as JSON) or raw text, to script malformed arguments too."""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted assistant answer."""

    text: str | None = None
    tool_calls: Sequence[ScriptedCall] = ()
    delay_s: float = 0.0
    usage: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_USAGE))
    status: int = 200
    """Anything but 200 answers an OpenAI-style error (5xx and 429 are retried by the SDK)."""
    check: Callable[[dict[str, Any]], None] | None = None
    """Called with the request body; an AssertionError there answers 500 and is kept."""


def call(name: str, arguments: Mapping[str, Any] | str | None = None, /, *,
         call_id: str | None = None, **kwargs: Any) -> ScriptedCall:
    """`call("create_task", title="Milk")` or `call("x", '{"broken"')`."""
    args: Mapping[str, Any] | str = arguments if arguments is not None else dict(kwargs)
    return ScriptedCall(name=name, arguments=args, id=call_id)


def calls(*tool_calls: ScriptedCall, text: str | None = None, **kwargs: Any) -> Step:
    return Step(text=text, tool_calls=tool_calls, **kwargs)


def reply(text: str, **kwargs: Any) -> Step:
    return Step(text=text, **kwargs)


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Inside a test run the signals belong to pytest, not to this little server.
        yield


class FakeOpenAI:
    def __init__(self, script: Sequence[Step] = (), *, model: str = "gpt-fake") -> None:
        self.script: list[Step] = list(script)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.problems: list[str] = []
        self._served = 0
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.base_url = ""

    def add(self, *steps: Step) -> None:
        self.script.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self.script) - self._served

    def assert_complete(self) -> None:
        problems = list(self.problems)
        if self.remaining:
            problems.append(f"{self.remaining} scripted step(s) never requested")
        if problems:
            raise AssertionError("fake OpenAI: " + "; ".join(problems))

    # --- the server ---------------------------------------------------------------------------

    async def __aenter__(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._completions, methods=["POST"]),
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
            raise RuntimeError("fake OpenAI server did not start")
        self.base_url = f"http://127.0.0.1:{port}/v1"
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
        return _error(404, f"fake OpenAI: {problem}")

    async def _completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        n = len(self.requests)
        if not request.headers.get("authorization", "").startswith("Bearer "):
            self.problems.append(f"request #{n} had no bearer key")
            return _error(401, "fake OpenAI: missing API key")
        if self._served >= len(self.script):
            problem = (f"unexpected request #{n}: the script has only {len(self.script)} "
                       f"step(s); last message: {_last(body)}")
            self.problems.append(problem)
            return _error(500, f"fake OpenAI: {problem}")
        step = self.script[self._served]
        self._served += 1
        if step.check is not None:
            try:
                step.check(body)
            except AssertionError as exc:
                self.problems.append(f"request #{n} failed its check: {exc}")
                return _error(500, f"fake OpenAI: request #{n} failed its check: {exc}")
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        if step.status != 200:
            return _error(step.status, "fake OpenAI: scripted error")
        return JSONResponse(self._completion(body, step))

    def _completion(self, body: dict[str, Any], step: Step) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": step.text}
        if step.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id or f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": c.arguments if isinstance(c.arguments, str)
                        else json.dumps(c.arguments),
                    },
                }
                for c in step.tool_calls
            ]
        usage = {**DEFAULT_USAGE, **step.usage}
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model") or self.model,
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if step.tool_calls else "stop",
                "logprobs": None,
            }],
            "usage": {
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": usage["completion_tokens"],
                "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
                "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
            },
        }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "fake_error", "param": None, "code": None}},
        status_code=status,
    )


def _last(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if not messages:
        return "none"
    last = messages[-1]
    return f"{last.get('role')}: {str(last.get('content'))[:120]}"
