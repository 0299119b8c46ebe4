"""Templates and the context every page shares (who is logged in, the family, the menu)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from luna.channels.api.deps import get_services, get_settings
from luna.services.access import Actor

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")

NAV = (
    ("/overview", "Today"),
    ("/chores", "Chores"),
    ("/tasks", "Tasks"),
    ("/habits", "Habits"),
    ("/goals", "Goals"),
    ("/checkins", "Check-ins"),
    ("/calendar", "Calendar"),
    ("/messages", "Messages"),
    ("/interactions", "Conversations"),
    ("/usage", "Usage"),
)


def _when(value: datetime | None, fmt: str = "%a %b %-d, %-I:%M %p") -> str:
    return value.strftime(fmt) if value else ""


def _day(value: date | None, fmt: str = "%a %b %-d") -> str:
    return value.strftime(fmt) if value else ""


def _money(value: float) -> str:
    return f"${value:,.4f}" if 0 < abs(value) < 0.01 else f"${value:,.2f}"


def _pct(value: float) -> str:
    return f"{round(value * 100):d}%"


CHANNEL_LABELS = {"sms": "Text messages", "voice": "Phone call", "web_chat": "Chat",
                  "web_voice": "Browser voice call"}


def _channel(value: str) -> str:
    return CHANNEL_LABELS.get(value, value.replace("_", " "))


TEMPLATES.env.filters.update(when=_when, day=_day, money=_money, pct=_pct, channel=_channel)


def realtime_origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


async def base_context(request: Request, actor: Actor) -> dict[str, Any]:
    svc = get_services(request)
    settings = get_settings(request)
    assert actor.member_id is not None and actor.household_id is not None
    members = await svc.members.list(actor)
    me = next(m for m in members if m.id == actor.member_id)
    household = await svc.members.household(actor, actor.household_id)
    return {
        "me": me,
        "is_child": actor.is_child,
        "household": household,
        "members": members,
        "names": {m.id: m.name for m in members},
        "nav": NAV,
        "path": request.url.path,
        "voice_mode": "realtime" if settings.openai_api_key is not None else "browser",
        "realtime_base": settings.openai_realtime_base_url.rstrip("/"),
        "error": None,
        "notice": None,
    }


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
