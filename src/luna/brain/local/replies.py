"""Luna's voice on the local path: warm, brief, SMS-sized, and reading back what the tool did.

Every reply is built from the tool's result (never from what we hoped would happen), so "Added
'Call the dentist' for tomorrow at 3:00 PM." is only said when the task exists with that time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from luna.brain.local.handlers import Env, Plan
from luna.brain.types import Action

MAX_LISTED = 4
SMS_LIMIT = 320


# --- formatting --------------------------------------------------------------------------------


def clock(value: datetime) -> str:
    return value.strftime("%I:%M %p").lstrip("0")


def day_words(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    if day == today - timedelta(days=1):
        return "yesterday"
    if today < day <= today + timedelta(days=6):
        return day.strftime("%A")
    return f"{day.strftime('%a, %b')} {day.day}"


def when_words(value: str | datetime | None, env: Env) -> str:
    """"tomorrow at 3:00 PM" for an instant, in the speaker's zone."""
    if value is None:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is not None:
        at = at.astimezone(ZoneInfo(env.tz))
    return f"{day_words(at.date(), env.today)} at {clock(at)}"


def date_words(value: str | date | None, env: Env) -> str:
    if value is None:
        return ""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return day_words(day, env.today)


def quoted(items: Sequence[str]) -> str:
    return join([f"'{i}'" for i in items])


def join(items: Sequence[str]) -> str:
    shown = list(items[:MAX_LISTED])
    more = len(items) - len(shown)
    if more:
        shown.append(f"{more} more")
    if not shown:
        return ""
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def number(value: float | int | None) -> str:
    if value is None:
        return ""
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:g}"


def _name_of(env: Env, member_id: Any) -> str | None:
    m = env.lists.member_by_id(member_id if isinstance(member_id, int) else None)
    return m.name if m else None


def _whose(env: Env, name: str | None) -> str:
    if not name or name == env.speaker:
        return "your"
    return f"{name}'s"


# --- errors ------------------------------------------------------------------------------------


_WHAT = {
    "complete_chore": "a chore", "reschedule_chore": "a chore", "delegate_chore": "a chore",
    "complete_task": "an open task", "reschedule_task": "an open task",
    "update_goal_progress": "a goal", "get_habit_summary": "a habit", "get_goals": "a goal",
}
_SAID_KEY = {
    "complete_chore": "chore", "reschedule_chore": "chore", "delegate_chore": "chore",
    "complete_task": "task", "reschedule_task": "task", "update_goal_progress": "goal",
    "get_habit_summary": "habit",
}


def error_reply(action: Action, env: Env) -> str:
    detail = (action.detail or "").strip()
    if action.error == "ambiguous":
        options = _candidates(action)
        if len(options) >= 2:
            return f"Did you mean {_or(options)}?"
        return f"I'm not sure which one you mean: {detail}."
    if action.error == "not_found":
        if "member" in detail or "family" in detail:
            args = action.arguments
            who = args.get("to") or args.get("member") or args.get("completed_by")
            return f"I don't know anyone called '{who}' in the family." if who else (
                "I couldn't find that person in the family.")
        key = _SAID_KEY.get(action.tool)
        what = _WHAT.get(action.tool)
        said = action.arguments.get(key) if key else None
        if what and said:
            return f"I couldn't find {what} called '{said}'."
        return f"Hmm, {detail}." if detail else "Hmm, I couldn't find that."
    if action.error == "forbidden":
        return f"Sorry, I can't do that: {detail}."
    if action.error in ("invalid_input", "invalid_arguments", "conflict"):
        return f"Hmm, I couldn't do that: {detail}." if detail else "Hmm, I couldn't do that."
    return "Something went wrong on my side. Mind trying that again in a moment?"


def _candidates(action: Action) -> list[str]:
    result = action.result
    if isinstance(result, dict) and isinstance(result.get("candidates"), list):
        return [str(c) for c in result["candidates"]]
    return []


def _or(options: Sequence[str]) -> str:
    quotedd = [f"'{o}'" for o in options[:4]]
    if len(quotedd) == 1:
        return quotedd[0]
    return ", ".join(quotedd[:-1]) + " or " + quotedd[-1]


# --- one renderer per tool ---------------------------------------------------------------------


Renderer = Callable[[dict[str, Any], Action, Plan, Env], str]
_RENDER: dict[str, Renderer] = {}


def renders(tool: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        _RENDER[tool] = fn
        return fn

    return register


def render(plan: Plan, actions: Sequence[Action], env: Env) -> str:
    if plan.reply and not actions:
        return plan.reply
    parts: list[str] = []
    for action in actions:
        if not action.ok:
            parts.append(error_reply(action, env))
            break
        data = action.result if isinstance(action.result, dict) else {"value": action.result}
        fn = _RENDER.get(action.tool)
        parts.append(fn(data, action, plan, env) if fn else "Done.")
    text = " ".join(p for p in parts if p)
    return _fit(text or "Done.")


def _fit(text: str) -> str:
    if len(text) <= SMS_LIMIT:
        return text
    cut = text[: SMS_LIMIT - 1]
    return cut[: cut.rfind(" ")].rstrip(",;:") + "…"


# tasks


@renders("create_task")
def _created_task(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    title = d.get("title", "")
    flag = " (marked urgent)" if d.get("priority") == "urgent" else (
        " (high priority)" if d.get("priority") == "high" else "")
    if d.get("due_at"):
        return f"Added '{title}' for {when_words(d['due_at'], env)}{flag}."
    return f"Added '{title}' to your list{flag}."


def _task_line(t: dict[str, Any], env: Env) -> str:
    title = f"'{t.get('title')}'"
    if t.get("overdue"):
        return f"{title} (overdue)"
    if t.get("due_at"):
        return f"{title} ({when_words(t['due_at'], env)})"
    return title


@renders("get_tasks")
def _tasks(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    tasks = d.get("tasks") or []
    view = p.said.get("view")
    span = _span_words(a.arguments, env)
    if not tasks:
        return {
            "overdue": "Nothing overdue on your list. Nice!",
            "overdue_all": "Nothing overdue on your list.",
            "completed": "Nothing checked off yet, but there's time.",
            "due": f"Nothing due {span}.",
            "priority": "Nothing like that on your list right now.",
        }.get(str(view), "Your list is clear. Enjoy it!")
    lines = join([_task_line(t, env) for t in tasks])
    lead = {
        "overdue": "Overdue:", "overdue_all": "Overdue on your list:",
        "completed": "You've finished", "due": f"Due {span}:",
    }.get(str(view), f"You have {plural(len(tasks), 'open task')}:")
    return f"{lead} {lines}."


def _span_words(args: dict[str, Any], env: Env) -> str:
    """"tomorrow", "this week" for a get_tasks due window."""
    start, end = args.get("due_from"), args.get("due_to")
    if not start or not end:
        return "then"
    first = date.fromisoformat(start[:10])
    last = date.fromisoformat(end[:10]) - timedelta(days=1)
    return window_words(first, last if last > first else None, env)


def window_words(first: date, last: date | None, env: Env) -> str:
    today = env.today
    monday = today - timedelta(days=today.weekday())
    if last is None:
        return day_words(first, today)
    if last == monday + timedelta(days=6) and first <= today + timedelta(days=1):
        return "this week"
    if first == monday + timedelta(days=7) and last == monday + timedelta(days=13):
        return "next week"
    if first.weekday() == 5 and last == first + timedelta(days=1):
        return "this weekend" if first < monday + timedelta(days=7) else "next weekend"
    return f"{day_words(first, today)} to {day_words(last, today)}"


@renders("complete_task")
def _completed_task(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    return f"Nice! '{d.get('title')}' is checked off."


@renders("reschedule_task")
def _moved_task(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    return f"Moved '{d.get('title')}' to {when_words(d.get('due_at'), env)}."


# habits and check-ins


@renders("log_habit")
def _logged(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    habit = d.get("habit") or {}
    log = d.get("log") or {}
    name = habit.get("name", a.arguments.get("habit"))
    if log.get("skipped"):
        return f"Rest day noted for {name}. Your streak is safe."
    when = ""
    if log.get("date") and log["date"] != env.member_today.isoformat():
        when = f" for {date_words(log['date'], env)}"
    amount = ""
    if a.arguments.get("value") is not None:
        unit = habit.get("unit")
        amount = f" {number(a.arguments['value'])}{' ' + unit if unit else ''} of"
    if d.get("created"):
        lead = f"Started tracking {name} and logged it{when}."
        if amount:
            lead = f"Started tracking {name} and logged{amount[:-3]}{when}."
        return lead
    streak = int(habit.get("streak_current") or 0)
    unit_word = str(habit.get("streak_unit") or "days")[:-1]
    cheer = f" That's a {streak}-{unit_word} streak!" if streak >= 2 else ""
    return f"Logged{amount} {name}{when}.{cheer}"


@renders("get_habit_summary")
def _habits(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    habits = d.get("habits") or []
    if not habits:
        return "You're not tracking any habits yet. Tell me what you did and I'll start."
    period = {"week": "this week", "month": "this month", "year": "this year"}.get(
        str(d.get("period")), "lately")

    def line(h: dict[str, Any]) -> str:
        rate = round(float(h.get("completion_rate") or 0) * 100)
        streak = int(h.get("streak_current") or 0)
        unit = str(h.get("streak_unit") or "days")[:-1]
        bits = [f"{rate}% {period}"]
        if streak:
            bits.insert(0, f"{streak}-{unit} streak")
        total = h.get("total_value")
        if h.get("unit") and total:
            bits.append(f"{number(total)} {h['unit']}")
        return f"{h.get('name')}: {', '.join(bits)}"

    if len(habits) == 1:
        h = habits[0]
        text = line(h) + "."
        if int(h.get("streak_current") or 0) >= 3:
            text += " Keep it going!"
        elif float(h.get("completion_rate") or 0) < 0.5:
            text += " A small session today gets you back on track."
        return text
    return "; ".join(line(h) for h in habits[:MAX_LISTED]) + "."


@renders("update_daily_metrics")
def _checkin(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    labels = [("sleep_quality", "sleep"), ("mood", "mood"), ("energy", "energy")]
    bits = [f"{label} {a.arguments[key]}/10" for key, label in labels if key in a.arguments]
    if "exercise_minutes" in a.arguments:
        bits.append(f"{a.arguments['exercise_minutes']} min of exercise")
    day = d.get("date")
    when = f" for {date_words(day, env)}" if day and day != env.member_today.isoformat() else ""
    text = f"Got it{when}: {join(bits)}."
    low = [a.arguments.get(k) for k in ("sleep_quality", "mood", "energy")]
    if any(v is not None and v <= 3 for v in low):
        text += " Go easy on yourself today."
    elif any(v is not None and v >= 8 for v in low):
        text += " Love that!"
    return text


# goals


def _goal_progress(g: dict[str, Any]) -> str:
    target, current, unit = g.get("target_value"), g.get("current_value"), g.get("unit") or ""
    if target:
        done = f"{number(current or 0)}/{number(target)} {unit}".strip()
        return f"{done} ({g.get('progress', 0)}%)"
    return f"{g.get('progress', 0)}%"


@renders("create_goal")
def _goal(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    text = f"New goal: '{d.get('title')}'"
    if d.get("target_date"):
        text += f", by {date_words(d['target_date'], env)}"
    return text + ". You've got this!"


@renders("update_goal_progress")
def _goal_update(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    g = d.get("goal") or {}
    if d.get("just_completed"):
        return f"You did it! '{g.get('title')}' is complete. Huge congrats!"
    return f"Updated '{g.get('title')}': {_goal_progress(g)}. Keep going!"


@renders("get_goals")
def _goals(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    goals = d.get("goals") or []
    focus = p.said.get("goal")
    if focus:
        goals = [g for g in goals if g.get("title") == focus] or goals
    if not goals and a.arguments.get("status") == "completed":
        return "No goals finished yet, but you're on your way!"
    if not goals:
        return "No goals here yet. Want to set one? Try \"I want to read 12 books this year\"."
    return join([f"'{g.get('title')}' {_goal_progress(g)}" for g in goals]) + "."


# profile


@renders("update_user_profile")
def _profile(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    args = a.arguments
    if "name" in args:
        return f"Got it, I'll call you {d.get('name', args['name'])}."
    if "timezone" in args:
        return f"Updated your time zone to {d.get('timezone', args['timezone'])}."
    if "communication_style" in args:
        return "Got it. I'll keep that in mind for how I reply."
    for key, lead in (("interests", "Love that! I'll remember you're into"),
                      ("challenges", "Thanks for telling me. I'll keep in mind"),
                      ("values", "Noted: what matters to you is"),
                      ("motivations", "Noted: you're motivated by"),
                      ("recent_wins", "That's worth celebrating:")):
        if key in args:
            return f"{lead} {join(args[key])}."
    return "Noted."


# chores


def _schedule_words(args: dict[str, Any]) -> str:
    kind = args.get("schedule", "weekly")
    if kind == "once":
        return ""
    if kind == "every_n_days":
        n = args.get("every_days") or 1
        if n == 1:
            return "every day"
        if n == 7:
            return "every week"
        if n == 14:
            return "every two weeks"
        return f"every {n} days"
    days = args.get("weekdays") or []
    if days == ["mon", "tue", "wed", "thu", "fri"]:
        return "every weekday"
    if days == ["sat", "sun"]:
        return "every weekend"
    names = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
    return "every " + join([names[x] for x in days]) if days else "every week"


@renders("create_chore")
def _chore_created(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    title = d.get("title")
    who = d.get("assignee_name")
    how = _schedule_words(a.arguments)
    bits = [f"Added the chore '{title}'"]
    if a.arguments.get("rotation"):
        bits.append(f"rotating {join(a.arguments['rotation'])}")
    elif who:
        bits.append(f"for {who}")
    if how:
        bits.append(how)
    if d.get("next_due"):
        bits.append(f"first up {date_words(d['next_due'], env)}")
    return ", ".join(bits) + "."


def _chore_line(c: dict[str, Any], env: Env, with_who: bool, with_day: bool = True) -> str:
    text = f"'{c.get('title')}'"
    extra = []
    if with_who and c.get("assignee_name"):
        extra.append(str(c["assignee_name"]))
    if c.get("overdue"):
        extra.append("overdue")
    elif c.get("next_due") and with_day:
        extra.append(date_words(c["next_due"], env))
    return f"{text} ({', '.join(extra)})" if extra else text


@renders("get_chores")
def _chores(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    chores = d.get("chores") or []
    focus = p.said.get("chore")
    if focus:
        found = next((c for c in chores if c.get("title") == focus), None)
        if found is None:
            return f"'{focus}' isn't on anyone's list right now."
        who = found.get("assignee_name")
        due = date_words(found["next_due"], env) if found.get("next_due") else ""
        if not who:
            when = f" {due}" if due else ""
            return f"'{focus}' isn't assigned to anyone. Anyone can grab it{when}."
        return f"It's {who}'s turn for '{focus}'{' (' + due + ')' if due else ''}."
    member = a.arguments.get("member")
    day = a.arguments.get("day")
    whose = _whose(env, member) if member else "the family's"
    when = f" {date_words(day, env)}" if day else ""
    if not chores:
        return f"No chores for {member if member and member != env.speaker else 'you'}{when}." if (
            member) else f"No chores{when}. Enjoy the break!"
    lead = whose[0].upper() + whose[1:]
    lines = [_chore_line(c, env, not member, with_day=not day) for c in chores]
    return f"{lead} chores{when}: {join(lines)}."


@renders("get_overdue_chores")
def _overdue(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    chores = d.get("chores") or []
    member = a.arguments.get("member")
    if not chores:
        return "No overdue chores. The house is on track!" if not member else (
            f"{member} is all caught up on chores.")
    return "Overdue chores: " + join([_chore_line(c, env, not member) for c in chores]) + "."


@renders("complete_chore")
def _chore_done(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    who = _name_of(env, d.get("completed_by")) or str(a.arguments.get("completed_by") or "")
    chore = p.said.get("chore") or a.arguments.get("chore")
    points = int(d.get("points_awarded") or 0)
    text = f"Nice work, {who}! '{chore}' is done"
    text += f", +{plural(points, 'point')}." if points else "."
    nxt = _name_of(env, d.get("next_assignee_id"))
    if nxt and nxt != who and d.get("next_due"):
        text += f" {nxt} is up next ({date_words(d['next_due'], env)})."
    return text


@renders("reschedule_chore")
def _chore_moved(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    return f"Moved '{d.get('title')}' to {date_words(d.get('next_due'), env)}."


@renders("delegate_chore")
def _delegated(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    who = d.get("assignee_name") or a.arguments.get("to")
    return f"Done: '{d.get('title')}' is {who}'s now."


@renders("suggest_chores")
def _suggested(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    items = d.get("suggestions") or []
    focus = p.said.get("chore")
    if focus:
        items = [s for s in items if s.get("title") == focus] or items
    if not items:
        return "Every chore already has someone on it. Nothing to suggest!"
    return "My picks: " + join([
        f"{s.get('suggested_member_name')} for '{s.get('title')}'" for s in items
    ]) + "."


# calendar and messages


@renders("get_schedule")
def _schedule(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    member = d.get("member")
    start = a.arguments.get("start")
    end = a.arguments.get("end")
    first = date.fromisoformat(start) if start else env.today
    when = window_words(first, date.fromisoformat(end) if end else None, env)
    whose = "you" if member in (None, env.speaker) else member
    items: list[str] = []
    for e in d.get("events") or []:
        if e.get("all_day"):
            items.append(f"{e.get('title')}")
        else:
            at = datetime.fromisoformat(e["start"]).astimezone(ZoneInfo(env.tz))
            day = "" if not end else f"{day_words(at.date(), env.today)} "
            items.append(f"{e.get('title')} {day}at {clock(at)}")
    for t in d.get("tasks") or []:
        due = t.get("due_at")
        due_words = f" ({when_words(due, env)})" if due and end else ""
        items.append(f"'{t.get('title')}'{due_words}")
    items += [f"'{c.get('title')}' (chore)" for c in d.get("chores") or []]
    if not items:
        return f"Nothing on the calendar for {whose} {when}. Wide open!"
    lead = when[0].upper() + when[1:]
    return f"{lead} for {whose}: {join(items)}."


@renders("add_event")
def _event(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    title = d.get("title")
    if d.get("all_day"):
        return f"Added '{title}' to the calendar for {date_words(d.get('start'), env)}."
    start = datetime.fromisoformat(d["start"]).astimezone(ZoneInfo(env.tz))
    on = day_words(start.date(), env.today)
    text = f"Added '{title}' to the calendar for {on}, {clock(start)}"
    if d.get("end"):
        end = datetime.fromisoformat(d["end"]).astimezone(ZoneInfo(env.tz))
        text += f" to {clock(end)}"
    if d.get("location"):
        text += f" at {d['location']}"
    return text + "."


@renders("send_family_message")
def _sent(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    names = [str(x.get("name")) for x in d.get("deliveries") or []]
    body = (d.get("message") or {}).get("body") or a.arguments.get("body")
    who = join(names) if names else join(a.arguments.get("to") or [])
    return f"Sent to {who}: \"{body}\""


# planning and undo


@renders("suggest_next_action")
def _next(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    if d.get("kind") == "none":
        return str(d.get("suggestion") or "You're all caught up. Maybe take a breather?")
    reason = d.get("reason")
    return f"{d.get('suggestion')}{' (' + str(reason) + ')' if reason else ''}"


@renders("get_daily_briefing")
def _briefing(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    return str(d.get("text") or "All quiet: nothing new since we last talked.")


@renders("undo_last_action")
def _undone(d: dict[str, Any], a: Action, p: Plan, env: Env) -> str:
    return str(d.get("message") or "Undone.")
