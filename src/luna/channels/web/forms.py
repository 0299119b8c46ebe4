"""The dashboard's forms. Each works as a plain POST (303 back to its page) and, through htmx,
without a full reload; a refused change re-renders the page with the reason and its status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from luna.channels.api.deps import get_services
from luna.channels.web import pages
from luna.channels.web.session import WebActorDep
from luna.domain.localday import combine_local
from luna.errors import InvalidInput, LunaError
from luna.services.access import Actor
from luna.services.chores import Mode, ScheduleIn
from luna.services.messages import FamilyChannel
from luna.services.tasks import Priority

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]
OptText = Annotated[str, Form()]
Ids = Annotated[list[str], Form()]
ErrorPage = Callable[[str, int], Awaitable[HTMLResponse]]

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MODES = ("fixed", "rotation", "fairest")
_PRIORITIES = ("low", "medium", "high", "urgent")


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def _attempt(action: Awaitable[Any], error_page: ErrorPage) -> Any | HTMLResponse:
    try:
        return await action
    except LunaError as exc:
        return await error_page(exc.detail, exc.http_status)


def _int(raw: str, field: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a whole number") from exc


def _float(raw: str, field: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a number") from exc


def _date(raw: str, field: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a date like 2026-03-04") from exc


def _time(raw: str, field: str) -> time | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a time like 17:30") from exc


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit()]


# --- chores ------------------------------------------------------------------------------------


def _schedule(kind: str, weekdays: list[str], interval: str, start: str) -> ScheduleIn:
    if kind not in ("once", "weekly", "every_n_days"):
        raise InvalidInput(f"unknown schedule {kind!r}")
    days = [d for d in weekdays if d in WEEKDAY_KEYS]
    if kind == "weekly" and not days:
        raise InvalidInput("pick at least one weekday")
    return ScheduleIn.model_validate({
        "kind": kind, "weekdays": days if kind == "weekly" else [],
        "interval_days": _int(interval, "every how many days") if kind == "every_n_days" else None,
        "date": _date(start, "the date"),
    })


def _mode(raw: str) -> Mode:
    if raw not in _MODES:
        raise InvalidInput(f"unknown assignment mode {raw!r}")
    return cast(Mode, raw)


@router.post("/chores")
async def chore_create(
    request: Request, actor: WebActorDep, title: Text, points: OptText = "1",
    assignee: OptText = "", mode: OptText = "fixed", rotation: Ids = [],  # noqa: B006
    kind: OptText = "weekly", weekdays: Ids = [], interval: OptText = "",  # noqa: B006
    start: OptText = "", due_time: OptText = "",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.chores.create(
            actor, title=title, schedule=_schedule(kind, weekdays, interval, start),
            assignee_id=_int(assignee, "assignee"), assignment_mode=_mode(mode),
            rotation_member_ids=_ids(rotation), due_time=due_time or None,
            points=_int(points, "points") or 0,
        )

    return await _chore_result(request, actor, go())


async def _chore_result(
    request: Request, actor: Actor, action: Awaitable[Any], back: str = ""
) -> Response:
    async def error(detail: str, status: int) -> HTMLResponse:
        if back == "/overview":
            return await pages.overview_page(request, actor, error=detail, status=status)
        return await pages.chores_page(request, actor, error=detail, status=status)

    result = await _attempt(action, error)
    if isinstance(result, HTMLResponse):
        return result
    if back == "/overview":
        return _back("/overview")
    done = getattr(result, "id", None) if result is not None else None
    return _back(f"/chores?done={done}" if done is not None else "/chores")


@router.post("/chores/{chore_id}")
async def chore_update(
    request: Request, chore_id: int, actor: WebActorDep, title: Text, points: OptText = "1",
    assignee: OptText = "", mode: OptText = "fixed", rotation: Ids = [],  # noqa: B006
    kind: OptText = "weekly", weekdays: Ids = [], interval: OptText = "",  # noqa: B006
    start: OptText = "", due_time: OptText = "",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        picked = _mode(mode)
        await svc.chores.update(actor, chore_id, {
            "title": title, "points": _int(points, "points") or 0,
            "schedule": _schedule(kind, weekdays, interval, start),
            "assignment_mode": picked, "assignee_id": _int(assignee, "assignee"),
            "rotation_member_ids": _ids(rotation), "due_time": due_time or None,
        })

    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.chore_edit_page(request, actor, chore_id, error=detail, status=status)

    result = await _attempt(go(), error)
    return result if isinstance(result, HTMLResponse) else _back("/chores")


@router.post("/chores/{chore_id}/complete")
async def chore_complete(
    request: Request, chore_id: int, actor: WebActorDep, completed_by: OptText = "",
    back: OptText = "",
) -> Response:
    svc = get_services(request)

    async def go() -> Any:
        doer = _int(completed_by, "completed by")
        # A child's tap is always their own; a grown-up ticks off the person in that row.
        if actor.is_child:
            doer = actor.member_id
        return await svc.chores.complete(actor, chore_id, doer)

    return await _chore_result(request, actor, go(), back)


@router.post("/chores/{chore_id}/skip")
async def chore_skip(request: Request, chore_id: int, actor: WebActorDep) -> Response:
    return await _chore_result(request, actor, get_services(request).chores.skip(actor, chore_id))


@router.post("/chores/completions/{completion_id}/undo")
async def chore_undo(request: Request, completion_id: int, actor: WebActorDep) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.chores.undo(actor, completion_id)

    return await _chore_result(request, actor, go())


@router.post("/chores/{chore_id}/archive")
async def chore_archive(request: Request, chore_id: int, actor: WebActorDep) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.chores.update(actor, chore_id, {"active": False})

    return await _chore_result(request, actor, go())


# --- tasks -------------------------------------------------------------------------------------


async def _due(request: Request, actor: Actor, member_id: int | None, day: str,
               at: str) -> datetime | None:
    d = _date(day, "the due date")
    if d is None:
        if at.strip():
            raise InvalidInput("give a date for the due time")
        return None
    svc = get_services(request)
    tz = (await svc.members.get(actor, member_id or cast(int, actor.member_id))).timezone
    return combine_local(d, _time(at, "the due time") or time(17, 0), tz)


@router.post("/tasks")
async def task_create(
    request: Request, actor: WebActorDep, title: Text, member: OptText = "",
    due_date: OptText = "", due_time: OptText = "", priority: OptText = "medium",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        member_id = _int(member, "member")
        if priority not in _PRIORITIES:
            raise InvalidInput(f"unknown priority {priority!r}")
        await svc.tasks.create(
            actor, title=title, member_id=member_id,
            due_at=await _due(request, actor, member_id, due_date, due_time),
            priority=cast(Priority, priority), source_channel="web",
        )

    return await _task_result(request, actor, go())


async def _task_result(request: Request, actor: Actor, action: Awaitable[Any]) -> Response:
    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.tasks_page(request, actor, error=detail, status=status)

    result = await _attempt(action, error)
    return result if isinstance(result, HTMLResponse) else _back("/tasks")


@router.post("/tasks/{task_id}/complete")
async def task_complete(request: Request, task_id: int, actor: WebActorDep) -> Response:
    return await _task_result(request, actor, get_services(request).tasks.complete(actor, task_id))


@router.post("/tasks/{task_id}/reopen")
async def task_reopen(request: Request, task_id: int, actor: WebActorDep) -> Response:
    svc = get_services(request)
    return await _task_result(
        request, actor, svc.tasks.update(actor, task_id, {"status": "pending"})
    )


@router.post("/tasks/{task_id}/delete")
async def task_delete(request: Request, task_id: int, actor: WebActorDep) -> Response:
    return await _task_result(request, actor, get_services(request).tasks.delete(actor, task_id))


# --- habits, goals, check-ins ------------------------------------------------------------------


@router.post("/habits")
async def habit_create(
    request: Request, actor: WebActorDep, name: Text, member: OptText = "",
    frequency: OptText = "daily", times_per_week: OptText = "", unit: OptText = "",
    target: OptText = "",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.habits.create(
            actor, name=name, member_id=_int(member, "member"),
            frequency=cast(Literal["daily", "times_per_week", "weekdays"], frequency),
            times_per_week=_int(times_per_week, "times per week"), unit=unit or None,
            target=_float(target, "target"),
        )

    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.habits_page(request, actor, error=detail, status=status)

    result = await _attempt(go(), error)
    return result if isinstance(result, HTMLResponse) else _back("/habits")


@router.post("/habits/{habit_id}/log")
async def habit_log(
    request: Request, habit_id: int, actor: WebActorDep, value: OptText = "",
    notes: OptText = "", day: OptText = "", back: OptText = "",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.habits.log(actor, habit_id, _float(value, "value") or 1.0, notes or None,
                             _date(day, "the day"))

    async def error(detail: str, status: int) -> HTMLResponse:
        if back == "habit":
            return await pages.habit_page(request, actor, habit_id, error=detail, status=status)
        if back == "overview":
            return await pages.overview_page(request, actor, error=detail, status=status)
        return await pages.habits_page(request, actor, error=detail, status=status)

    result = await _attempt(go(), error)
    if isinstance(result, HTMLResponse):
        return result
    return _back({"habit": f"/habits/{habit_id}", "overview": "/overview"}.get(back, "/habits"))


@router.post("/goals")
async def goal_create(
    request: Request, actor: WebActorDep, title: Text, member: OptText = "",
    target_value: OptText = "", unit: OptText = "", target_date: OptText = "",
    timeframe: OptText = "monthly",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.goals.create(
            actor, title=title, member_id=_int(member, "member"),
            target_value=_float(target_value, "target"), unit=unit or None,
            target_date=_date(target_date, "target date"),
            timeframe=timeframe,  # type: ignore[arg-type]  # the service checks the choice
        )

    return await _goal_result(request, actor, go())


async def _goal_result(request: Request, actor: Actor, action: Awaitable[Any]) -> Response:
    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.goals_page(request, actor, error=detail, status=status)

    result = await _attempt(action, error)
    return result if isinstance(result, HTMLResponse) else _back("/goals")


@router.post("/goals/{goal_id}/progress")
async def goal_progress(
    request: Request, goal_id: int, actor: WebActorDep, value: OptText = "", delta: OptText = "",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        await svc.goals.update_progress(
            actor, goal_id, value=_float(value, "value"), delta=_float(delta, "change")
        )

    return await _goal_result(request, actor, go())


@router.post("/goals/{goal_id}/status")
async def goal_status(request: Request, goal_id: int, actor: WebActorDep, status: Text) -> Response:
    svc = get_services(request)
    return await _goal_result(request, actor, svc.goals.update(actor, goal_id, {"status": status}))


@router.post("/checkins")
async def checkin_save(
    request: Request, actor: WebActorDep, member: OptText = "", sleep_quality: OptText = "",
    mood: OptText = "", energy: OptText = "", exercise_minutes: OptText = "",
    notes: OptText = "",
) -> Response:
    svc = get_services(request)
    member_id = _int(member, "member") if member.strip().isdigit() else None

    async def go() -> None:
        await svc.checkins.upsert(
            actor, member_id, sleep_quality=_int(sleep_quality, "sleep"), mood=_int(mood, "mood"),
            energy=_int(energy, "energy"), exercise_minutes=_int(exercise_minutes, "exercise"),
            notes=notes or None,
        )

    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.checkins_page(request, actor, member_id, error=detail, status=status)

    result = await _attempt(go(), error)
    if isinstance(result, HTMLResponse):
        return result
    return _back(f"/checkins?member={member_id}" if member_id else "/checkins")


# --- calendar and messages ---------------------------------------------------------------------


@router.post("/calendar")
async def event_create(
    request: Request, actor: WebActorDep, title: Text, day: Text, at: OptText = "",
    minutes: OptText = "60", location: OptText = "", members: Ids = [],  # noqa: B006
) -> Response:
    svc = get_services(request)

    async def go() -> str:
        tz = await svc.calendar.household_tz(actor)
        d = _date(day, "the day")
        if d is None:
            raise InvalidInput("give the event a day")
        start_time = _time(at, "the time")
        if start_time is None:
            start, end, all_day = combine_local(d, time(0), tz), None, True
        else:
            start = combine_local(d, start_time, tz)
            end, all_day = start + timedelta(minutes=_int(minutes, "minutes") or 60), False
        await svc.calendar.add(actor, title, start, end, all_day, location or None,
                               member_ids=_ids(members))
        return d.isoformat()

    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.calendar_page(request, actor, None, error=detail, status=status)

    result = await _attempt(go(), error)
    return result if isinstance(result, HTMLResponse) else _back(f"/calendar?week={result}")


@router.post("/messages")
async def message_send(
    request: Request, actor: WebActorDep, body: Text, to: Ids = [],  # noqa: B006
    channel: OptText = "sms",
) -> Response:
    svc = get_services(request)

    async def go() -> None:
        if channel not in ("sms", "app"):
            raise InvalidInput(f"unknown channel {channel!r}")
        await svc.messages.send_family_message(actor, _ids(to), body,
                                               cast(FamilyChannel, channel))

    async def error(detail: str, status: int) -> HTMLResponse:
        return await pages.messages_page(request, actor, error=detail, status=status)

    result = await _attempt(go(), error)
    return result if isinstance(result, HTMLResponse) else _back("/messages")
