"""Derive a tool's parameters model and strict JSON schema from its signature and docstring."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ARG_ENTRY = re.compile(r"^ {4}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")
_SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Yields|Examples?|Note):$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Google style: the summary paragraph, and each `Args:` entry (continuations folded in)."""
    if not doc:
        return "", {}
    summary: list[str] = []
    args: dict[str, str] = {}
    section = "summary"
    current: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        header = _SECTION.match(line)
        if header:
            section = "args" if header.group(1) in {"Args", "Arguments"} else "other"
            current = None
        elif section == "summary":
            summary.append(line.strip())
        elif section == "args":
            entry = _ARG_ENTRY.match(line)
            if entry:
                current = entry.group(1)
                args[current] = entry.group(2).strip()
            elif current and line.strip():
                args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(s for s in summary if s).strip(), args


def params_model(fn: Callable[..., Any], name: str) -> tuple[str, type[ToolArgs]]:
    """The description and a pydantic model of every parameter after the context."""
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)
    summary, arg_docs = parse_docstring(fn.__doc__)
    params = list(sig.parameters.values())
    if not params or params[0].name != "ctx":
        raise TypeError(f"tool {name} must take ctx: ToolContext as its first parameter")
    fields: dict[str, Any] = {}
    for p in params[1:]:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise TypeError(f"tool {name}: *args and **kwargs are not allowed")
        if p.name not in hints:
            raise TypeError(f"tool {name}: parameter {p.name} has no type")
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], Field(default, description=arg_docs.get(p.name)))
    model = create_model(f"{_camel(name)}Args", __base__=ToolArgs, **fields)
    return summary, model


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's strict shape: refs inlined, every property required, no extra properties.

    An optional parameter stays optional for the model by admitting null.
    """
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    strict: dict[str, Any] = _strict(_inline(raw, defs))
    return strict


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return _inline({**target, **extra}, defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"title", "default"}:
            continue  # annotations the model doesn't need; "properties" keys are handled below
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        else:
            out[key] = _strict(value)
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
