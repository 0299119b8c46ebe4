"""The tool registry: register typed async functions, invoke them safely by name."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from luna.errors import Ambiguous, LunaError
from luna.tools.schema import ToolArgs, params_model, strict_json_schema

if TYPE_CHECKING:
    from luna.tools.context import ToolContext

log = structlog.get_logger(__name__)

ToolFn = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=ToolFn)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool, as every wire format and the runner see it."""

    name: str
    description: str
    params: type[ToolArgs]
    fn: ToolFn
    writes: bool
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call produced; errors are results too, never exceptions."""

    tool: str
    ok: bool
    data: Any = None
    error: str | None = None
    detail: str | None = None
    candidates: list[str] | None = None
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "result": self.data}
        out: dict[str, Any] = {"ok": False, "error": self.error, "detail": self.detail}
        if self.candidates:
            out["candidates"] = self.candidates
        return out

    def to_model_content(self) -> str:
        """The text a model reads back as the tool's output."""
        return json.dumps(self.as_dict(), default=str, ensure_ascii=False)


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}

    def tool(self, *, writes: bool) -> Callable[[F], F]:
        """Register `fn` under its own name; its schema comes from its signature."""

        def register(fn: F) -> F:
            name = fn.__name__
            if name in self._specs:
                raise ValueError(f"tool {name} registered twice")
            description, params = params_model(fn, name)
            if not description:
                raise TypeError(f"tool {name} needs a docstring: the model reads it")
            self._specs[name] = ToolSpec(
                name=name,
                description=description,
                params=params,
                fn=fn,
                writes=writes,
                parameters=strict_json_schema(params),
            )
            return fn

        return register

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    async def invoke(
        self, name: str, ctx: ToolContext, arguments: Mapping[str, Any] | str | None
    ) -> ToolResult:
        started = time.perf_counter()
        spec = self._specs.get(name)
        if spec is None:
            return ToolResult(
                name, ok=False, error="unknown_tool", detail=f"no tool named {name!r}"
            )
        try:
            args = _parse_arguments(arguments)
            parsed = spec.params.model_validate(args)
            kwargs = {k: getattr(parsed, k) for k in type(parsed).model_fields}
            # A tool's reads share one session (the member is loaded once) up to its first write.
            async with ctx.services.db.shared_reads():
                data = await spec.fn(ctx, **kwargs)
        except ValidationError as exc:
            return _failed(name, "invalid_arguments", _explain(exc), started)
        except Ambiguous as exc:
            res = _failed(name, exc.code, exc.detail, started)
            return ToolResult(**{**_fields(res), "candidates": exc.candidates})
        except LunaError as exc:
            return _failed(name, exc.code, exc.detail, started)
        except Exception:
            # A broken tool must not break the conversation; the model hears a plain error.
            log.exception("tool_crashed", tool=name)
            return _failed(name, "internal_error", "the tool failed unexpectedly", started)
        return ToolResult(
            name,
            ok=True,
            data=to_jsonable(data),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )


def _fields(r: ToolResult) -> dict[str, Any]:
    return {k: getattr(r, k) for k in ToolResult.__slots__}


def _failed(name: str, code: str, detail: str, started: float) -> ToolResult:
    return ToolResult(
        name,
        ok=False,
        error=code,
        detail=detail,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _parse_arguments(arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, str):
        try:
            loaded = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise LunaError(f"arguments are not valid JSON: {exc.msg}") from exc
        if not isinstance(loaded, dict):
            raise LunaError("arguments must be a JSON object")
        arguments = loaded
    # Strict-mode models send null for an omitted optional argument; drop it to take the default.
    return {k: v for k, v in arguments.items() if v is not None}


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
