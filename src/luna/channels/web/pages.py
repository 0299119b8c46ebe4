"""The dashboard's pages. Each `*_page` builder is also what a failed form re-renders."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, time, timedelta
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from luna.channels.api.deps import get_services
from luna.channels.web import charts, views
from luna.channels.web.render import base_context, render
from luna.channels.web.session import LoginRequired, WebActorDep, web_actor
from luna.domain.localday import combine_local, local_now
from luna.errors import InvalidInput
from luna.services.access import Actor
from luna.services.checkins import SCORES
from luna.services.interactions import CHANNELS, Channel

router = APIRouter(include_in_schema=False)

HEATMAP_WEEKS = 16
CHECKIN_DAYS = 30


def _parse_day(raw: str | None, fallback: date) -> date:
    if not raw:
        return fallback
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{raw!r} is not a date like 2026-03-04") from exc


async def _context(request: Request, actor: Actor, **extra: Any) -> dict[str, Any]:
    ctx = await base_context(request, actor)
    ctx.update(extra)
    return ctx


@router.get("/")
async def home(request: Request) -> Response:
    try:
        await web_actor(request)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/overview", status_code=303)


@router.get("/overview")
async def overview(request: Request, actor: WebActorDep) -> HTMLResponse:
    return await overview_page(request, actor)


async def overview_page(
    request: Request, actor: Actor, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    ctx["days"] = await views.overview(svc, actor, ctx["members"])
    return render(request, "overview.html", ctx, status)


@router.get("/chores")
async def chores(request: Request, actor: WebActorDep, done: int | None = None) -> HTMLResponse:
    return await chores_page(request, actor, done=done)


async def chores_page(
    request: Request, actor: Actor, *, error: str | None = None, done: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    board = await views.chore_board(svc, actor, ctx["members"])
    ctx["board"] = board
    ctx["just_done"] = next(
        (item for row in board.rows for cell in row.cells for item in cell
         if done is not None and item.completion_id == done), None,
    )
    ctx["weekdays"] = charts.WEEKDAY_LABELS
    return render(request, "chores.html", ctx, status)


@router.get("/chores/{chore_id}/edit")
async def chore_edit(request: Request, chore_id: int, actor: WebActorDep) -> HTMLResponse:
    return await chore_edit_page(request, actor, chore_id)


async def chore_edit_page(
    request: Request, actor: Actor, chore_id: int, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    ctx["chore"] = await svc.chores.get(actor, chore_id)
    ctx["weekdays"] = charts.WEEKDAY_LABELS
    return render(request, "chore_edit.html", ctx, status)


@router.get("/tasks")
async def tasks(request: Request, actor: WebActorDep) -> HTMLResponse:
    return await tasks_page(request, actor)


async def tasks_page(
    request: Request, actor: Actor, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    open_tasks = views.sort_tasks(await svc.tasks.list(actor, status="open"))
    grouped: dict[int, list[Any]] = defaultdict(list)
    for t in open_tasks:
        grouped[t.member_id].append(t)
    ctx["groups"] = [(m, grouped[m.id]) for m in ctx["members"] if m.id in grouped]
    done = await svc.tasks.list(actor, status="completed")
    ctx["done"] = sorted(done, key=lambda t: t.completed_at or t.created_at, reverse=True)[:10]
    return render(request, "tasks.html", ctx, status)


@router.get("/habits")
async def habits(request: Request, actor: WebActorDep) -> HTMLResponse:
    return await habits_page(request, actor)


async def habits_page(
    request: Request, actor: Actor, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    ctx["habits"] = await svc.habits.list(actor)
    return render(request, "habits.html", ctx, status)


@router.get("/habits/{habit_id}")
async def habit(request: Request, habit_id: int, actor: WebActorDep) -> HTMLResponse:
    return await habit_page(request, actor, habit_id)


async def habit_page(
    request: Request, actor: Actor, habit_id: int, *, error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    h = await svc.habits.get(actor, habit_id)
    owner = next(m for m in ctx["members"] if m.id == h.member_id)
    end = local_now(svc.clock.now(), owner.timezone).date()
    start = end - timedelta(days=7 * HEATMAP_WEEKS - 1)
    logs = await svc.habits.list_logs(actor, habit_id, start=start, end=end)
    done: dict[date, float] = defaultdict(float)
    skipped: set[date] = set()
    for log in logs:
        if log.skipped:
            skipped.add(log.date)
        else:
            done[log.date] += log.value
    ctx.update(habit=h, owner=owner, logs=list(reversed(logs))[:14],
               heatmap=charts.heatmap(start, end, done, skipped, unit=h.unit),
               days_logged=len(done))
    return render(request, "habit.html", ctx, status)


@router.get("/goals")
async def goals(request: Request, actor: WebActorDep) -> HTMLResponse:
    return await goals_page(request, actor)


async def goals_page(
    request: Request, actor: Actor, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    ctx["goals"] = await svc.goals.list(actor, status="all")
    return render(request, "goals.html", ctx, status)


@router.get("/checkins")
async def checkins(
    request: Request, actor: WebActorDep, member: int | None = None
) -> HTMLResponse:
    return await checkins_page(request, actor, member)


async def checkins_page(
    request: Request, actor: Actor, member_id: int | None, *, error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    who = member_id if member_id is not None and not actor.is_child else actor.member_id
    subject = await svc.members.get(actor, who) if who is not None else ctx["me"]
    end = local_now(svc.clock.now(), subject.timezone).date()
    start = end - timedelta(days=CHECKIN_DAYS - 1)
    rows = await svc.checkins.list(actor, member_id=subject.id, start=start, end=end)
    labels = {"sleep_quality": "Sleep", "mood": "Mood", "energy": "Energy"}
    series = [
        (key, labels[key], {r.date: getattr(r, key) for r in rows}) for key in SCORES
    ]
    ctx.update(subject=subject, rows=list(reversed(rows)),
               chart=charts.line_chart(start, end, series), today=end,
               today_row=next((r for r in rows if r.date == end), None))
    return render(request, "checkins.html", ctx, status)


@router.get("/calendar")
async def calendar(request: Request, actor: WebActorDep, week: str | None = None) -> HTMLResponse:
    return await calendar_page(request, actor, week)


async def calendar_page(
    request: Request, actor: Actor, week: str | None, *, error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error)
    tz = await svc.calendar.household_tz(actor)
    today = local_now(svc.clock.now(), tz).date()
    days = views.week_of(_parse_day(week, today))
    start = combine_local(days[0], time(0), tz)
    end = combine_local(days[-1] + timedelta(days=1), time(0), tz)
    events = await svc.calendar.list(actor, start, end)
    by_day: dict[date, list[Any]] = defaultdict(list)
    for e in events:
        by_day[max(e.start.date(), days[0])].append(e)
    ctx.update(days=days, today=today, by_day=by_day, tz=tz,
               prev_week=(days[0] - timedelta(days=7)).isoformat(),
               next_week=(days[0] + timedelta(days=7)).isoformat())
    return render(request, "calendar.html", ctx, status)


@router.get("/messages")
async def messages(request: Request, actor: WebActorDep) -> HTMLResponse:
    return await messages_page(request, actor)


async def messages_page(
    request: Request, actor: Actor, *, error: str | None = None, notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor, error=error, notice=notice)
    ctx["family"] = await svc.messages.list(actor, kind="family", limit=50)
    outbox = await svc.messages.list(actor, kind="sms", limit=50)
    outbox += await svc.messages.list(actor, kind="call", limit=50)
    ctx["outbox"] = sorted(outbox, key=lambda m: m.created_at, reverse=True)
    return render(request, "messages.html", ctx, status)


@router.get("/interactions")
async def interactions(
    request: Request, actor: WebActorDep, channel: str | None = None, member: int | None = None
) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor)
    picked = cast(Channel, channel) if channel in CHANNELS else None
    ctx["items"] = await svc.interactions.list(
        actor, member_id=member, channel=picked, limit=100
    )
    ctx.update(channels=CHANNELS, channel=picked, member_filter=member)
    return render(request, "interactions.html", ctx)


def transcript_lines(transcript: list[Any]) -> list[tuple[str, str]]:
    """Transcripts come from several channels; each line becomes (speaker, text)."""
    out = []
    for item in transcript:
        if isinstance(item, dict):
            who = str(item.get("role") or item.get("speaker") or "")
            text = item.get("text") or item.get("content") or item.get("transcript") or ""
            out.append((who, str(text)))
        else:
            out.append(("", str(item)))
    return out


@router.get("/interactions/{interaction_id}")
async def interaction(request: Request, interaction_id: int, actor: WebActorDep) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor)
    item = await svc.interactions.get(actor, interaction_id)
    ctx.update(item=item, lines=transcript_lines(item.transcript))
    return render(request, "interaction.html", ctx)


@router.get("/usage")
async def usage(request: Request, actor: WebActorDep, month: str | None = None) -> HTMLResponse:
    svc = get_services(request)
    ctx = await _context(request, actor)
    tz = await svc.interactions.household_tz(actor)
    today = local_now(svc.clock.now(), tz).date()
    first = _parse_day(f"{month}-01" if month else None, today.replace(day=1))
    rows = await svc.interactions.usage_by_member_month(actor, first.year, first.month)
    per_member: dict[int | None, list[Any]] = defaultdict(list)
    for r in rows:
        per_member[r.member_id].append(r)
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    ctx.update(
        month=first, per_member=per_member,
        totals={mid: sum(r.cost_usd for r in items) for mid, items in per_member.items()},
        total=sum(r.cost_usd for r in rows),
        prev_month=prev_month.strftime("%Y-%m"), next_month=next_month.strftime("%Y-%m"),
    )
    return render(request, "usage.html", ctx)
