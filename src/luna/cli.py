"""The `luna` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from luna.config import Settings, load_settings
from luna.db import migrate
from luna.errors import Ambiguous, LunaError, NotFound
from luna.runtime import Runtime
from luna.services.access import ADMIN
from luna.services.members import MemberOut
from luna.voice.direct_receive import UVICORN_WS

app = typer.Typer(help="Luna, the family assistant.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
member_app = typer.Typer(help="Household members.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(member_app, name="member")
app.add_typer(token_app, name="token")
caldav_app = typer.Typer(help="Two-way sync of the family calendar with a CalDAV server.",
                         no_args_is_help=True)
app.add_typer(caldav_app, name="caldav")

console = Console()
T = TypeVar("T")


def _run(fn: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = load_settings()

    async def go() -> T:
        async with Runtime(settings) as rt:
            return await fn(rt)

    try:
        return asyncio.run(go())
    except LunaError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from exc


def _print_login(settings: Settings, token: str) -> None:
    base = settings.public_url.rstrip("/")
    console.print(f"Log in: [bold]{base}/login?token={token}[/bold]")
    console.print(f"API token: {token}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema."""
    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = "base") -> None:
    """Migrate the database down (to base by default)."""
    migrate.downgrade(load_settings().database_url, revision)


@app.command()
def init(
    name: Annotated[str, typer.Option(help="Household name")] = "Home",
    timezone: Annotated[str, typer.Option(help="IANA timezone")] = "",
    admin_name: Annotated[str, typer.Option("--admin-name", help="First adult's name")] = "Me",
    phone: Annotated[str | None, typer.Option(help="First adult's phone (E.164)")] = None,
) -> None:
    """Create a household and its first adult, and print a login token."""
    settings = load_settings()
    migrate.upgrade(settings.database_url)

    async def go(rt: Runtime) -> Any:
        return await rt.services.members.create_household(
            ADMIN, name=name, timezone=timezone or settings.default_timezone,
            admin_name=admin_name, admin_phone=phone,
        )

    created = _run(go)
    console.print(f"household {created.id} ({created.name}), member {created.admin_member_id}")
    _print_login(settings, created.token)


@member_app.command("add")
def member_add(
    household: Annotated[int, typer.Option(help="Household id")],
    name: Annotated[str, typer.Option()],
    phone: Annotated[str | None, typer.Option()] = None,
    role: Annotated[str, typer.Option(help="adult or child")] = "adult",
    timezone: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a member to a household."""
    if role not in ("adult", "child"):
        raise typer.BadParameter("role must be adult or child")

    async def go(rt: Runtime) -> Any:
        return await rt.services.members.add_member(
            ADMIN, household_id=household, name=name, phone=phone, timezone=timezone,
            role="child" if role == "child" else "adult",
        )

    m = _run(go)
    console.print(f"member {m.id}: {m.name} ({m.role})")


@token_app.command("create")
def token_create(
    member: Annotated[int, typer.Option(help="Member id")],
    name: Annotated[str, typer.Option(help="A label for the token")] = "cli",
) -> None:
    """Create an API token for a member."""

    async def go(rt: Runtime) -> Any:
        return await rt.services.members.create_token(ADMIN, member, name)

    created = _run(go)
    _print_login(load_settings(), created.token)


@app.command()
def demo(
    force: Annotated[bool, typer.Option(help="Add the demo family even if data exists")] = False,
) -> None:
    """Load a demo family with a week of history (only into an empty database)."""
    from luna.demo import load_demo

    settings = load_settings()
    migrate.upgrade(settings.database_url)

    async def go(rt: Runtime) -> Any:
        return await load_demo(rt.services, force=force)

    result = _run(go)
    if result is None:
        console.print("database already has households; demo not loaded (use --force)")
        return
    console.print(f"demo household {result.household_id} loaded")
    _print_login(settings, result.token)


@app.command()
def tool(
    name: Annotated[str, typer.Argument(help="Tool name, e.g. create_task")],
    member: Annotated[int, typer.Option(help="Member id the tool acts for")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object")] = "{}",
) -> None:
    """Call one of the assistant's tools, through the same path the assistant uses."""
    from luna.tools import catalog
    from luna.tools.context import context_for

    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--args is not JSON: {exc.msg}") from exc
    registry = catalog.load(load_settings())
    if name not in registry:
        raise typer.BadParameter(f"unknown tool {name!r}; known: {', '.join(registry.names())}")

    async def go(rt: Runtime) -> Any:
        ctx = await context_for(rt.services, ADMIN, member, channel="cli")
        return await registry.invoke(name, ctx, arguments)

    result = _run(go)
    console.print_json(json.dumps(result.as_dict(), default=str))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def chat(
    member: Annotated[str, typer.Option("--member", help="Member name or id to talk as")],
) -> None:
    """Talk with Luna in the terminal, as a member; each tool call is shown as it happens."""
    settings = load_settings()

    async def go(rt: Runtime) -> None:
        from luna.brain.converse import Brain
        from luna.brain.types import Action, ConversationInput
        from luna.tools import catalog

        who = await _find_member(rt, member)
        brain = Brain(rt.services, catalog.load(settings), settings)

        async def show(action: Action) -> None:
            args = json.dumps(action.arguments, ensure_ascii=False, default=str)
            if action.ok:
                console.print(f"  [green]✓ {action.tool}[/green] [dim]{args}[/dim]")
            else:
                console.print(f"  [red]✗ {action.tool}[/red] [dim]{args}[/dim] {action.detail}")

        console.print(f"Talking as [bold]{who.name}[/bold] ({brain.mode}). "
                      "Type quit or press Ctrl-D to stop.")
        try:
            while True:
                try:
                    text = await asyncio.to_thread(console.input, "[bold cyan]you[/bold cyan] › ")
                except EOFError:
                    break
                if text.strip().lower() in {"quit", "exit", "bye"}:
                    break
                if not text.strip():
                    continue
                result = await brain.converse(
                    ConversationInput(member=who, channel="cli", text=text), on_action=show
                )
                console.print(f"[bold magenta]Luna[/bold magenta] [dim]({result.handled_by})"
                              f"[/dim] {result.reply}")
        finally:
            await brain.aclose()

    _run(go)


async def _find_member(rt: Runtime, name_or_id: str) -> MemberOut:
    """A member by id, or by name or nickname across the households on this server."""
    if name_or_id.strip().isdigit():
        return await rt.services.members.get(ADMIN, int(name_or_id))
    wanted = name_or_id.strip().lower()
    found: list[MemberOut] = []
    for household in await rt.services.members.list_households(ADMIN):
        for m in await rt.services.members.list(ADMIN, household.id):
            if wanted in {m.name.lower(), *(n.lower() for n in m.nicknames)}:
                found.append(m)
    if not found:
        raise NotFound(f"no member named {name_or_id!r}; try their id (luna member add)")
    if len(found) > 1:
        raise Ambiguous(f"{len(found)} members are called {name_or_id!r}; use an id",
                        [f"{m.id}: {m.name} (household {m.household_id})" for m in found])
    return found[0]


@app.command()
def call(
    member: Annotated[str, typer.Argument(help="The member's id or name")],
    purpose: Annotated[str, typer.Option(help="checkin, evening_reflection, morning_briefing, "
                                               "reminder")] = "checkin",
) -> None:
    """Phone a member now: Twilio rings them and connects the call to Luna's voice stream."""
    from luna.voice.calls import CallControl, OutboundCalls

    async def go(rt: Runtime) -> str:
        who = await _find_member(rt, member)
        control = CallControl(rt.settings)
        try:
            return await OutboundCalls(rt.settings, rt.services, control).call_member(
                who.id, purpose)
        finally:
            await control.aclose()

    console.print(f"calling: {_run(go)}")


@app.command()
def sms(
    text: Annotated[str, typer.Argument(help="What the member texts")],
    sender: Annotated[str, typer.Option("--from", help="The member's phone (E.164)")],
    url: Annotated[str | None, typer.Option(help="Where Luna runs (default: LUNA_PUBLIC_URL)")]
    = None,
    sid: Annotated[str | None, typer.Option(help="MessageSid, to replay a retry")] = None,
) -> None:
    """Text a running Luna like a phone would: a correctly signed Twilio webhook."""
    import httpx

    from luna.channels.sms.simulator import send_text

    settings = load_settings()
    try:
        sent = asyncio.run(send_text(settings, url or settings.public_url, sender, text, sid=sid))
    except httpx.HTTPError as exc:
        console.print(f"[red]could not reach Luna[/red]: {exc}")
        raise typer.Exit(1) from exc
    except LunaError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from exc
    if sent.status_code != 200:
        console.print(f"[red]HTTP {sent.status_code}[/red]: {sent.body[:300]}")
        raise typer.Exit(1)
    if sent.reply is None:
        console.print("[dim](no inline reply: Luna is still thinking and will text back "
                      "through the outbound port)[/dim]")
    else:
        console.print(f"[bold magenta]Luna[/bold magenta] {sent.reply}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    migrate_db: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
    scheduler: Annotated[bool, typer.Option(
        "--scheduler/--no-scheduler",
        help="Run proactive nudges in this process (SQLite); use --no-scheduler with workers",
    )] = True,
    workers: Annotated[int | None, typer.Option(
        help="Server processes sharing the port (LUNA_WEB_WORKERS, default 1): one per core "
             "for heavy SMS traffic",
    )] = None,
) -> None:
    """Serve Luna (API, webhooks, dashboard)."""
    import uvicorn

    from luna.channels.app import create_app

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if not scheduler:
        overrides["scheduler_enabled"] = False
    if workers:
        overrides["web_workers"] = workers
    settings = load_settings(**overrides)
    if migrate_db:
        migrate.upgrade(settings.database_url)
    token = _run(_login_token)
    if token:
        _print_login(settings, token)
    else:
        console.print("no household yet: run `luna init` or `luna demo`")
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level.lower(),
        # uvicorn's websockets-sansio, with direct receive for the phone calls' media frames.
        "ws": UVICORN_WS,
        # Twilio's media frames are a few hundred bytes; nothing needs uvicorn's 16 MiB default.
        "ws_max_size": max(1 << 20, settings.voice_max_message_bytes),
        # Compressing 160-byte audio frames costs CPU on every frame and saves nothing.
        "ws_per_message_deflate": False,
    }
    if settings.web_workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Each worker process builds its own app from the environment, so what this command
    # changed is handed down through it.
    for key, value in overrides.items():
        os.environ[f"LUNA_{key.upper()}"] = str(value)
    uvicorn.run("luna.channels.app:app_from_environment", factory=True,
                workers=settings.web_workers, **options)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once in this worker")] = None,
    name: Annotated[str | None, typer.Option(help="Worker name in logs")] = None,
    migrate_db: Annotated[bool, typer.Option("--migrate/--no-migrate")] = False,
) -> None:
    """Run a scheduler worker (PostgreSQL): briefings, reminders and alerts; run any number."""
    from luna.logging import configure_logging
    from luna.scheduler.workers import run_worker

    settings = load_settings()
    if settings.is_sqlite:
        console.print("[red]luna worker needs PostgreSQL[/red]; on SQLite `luna serve` runs "
                      "the scheduler itself")
        raise typer.Exit(2)
    if migrate_db:
        migrate.upgrade(settings.database_url)
    configure_logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings, concurrency=concurrency, name=name))


async def _login_token(rt: Runtime) -> str | None:
    """A fresh token for the first adult, printed at start like Jupyter's login link."""
    households = await rt.services.members.list_households(ADMIN)
    if not households:
        return None
    members = await rt.services.members.list(ADMIN, households[0].id)
    adult = next((m for m in members if m.role == "adult"), None)
    if adult is None:
        return None
    return (await rt.services.members.create_token(ADMIN, adult.id, "serve")).token


@caldav_app.command("configure")
def caldav_configure(
    household: Annotated[int, typer.Option(help="Household id")],
    url: Annotated[str, typer.Option(help="The calendar collection's URL")],
    username: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option(
        prompt=True, prompt_required=False, hide_input=True,
        help="Asked for when given without a value; never printed",
    )] = None,
) -> None:
    """Connect a household to its calendar (stored in the household's settings)."""

    async def go(rt: Runtime) -> str:
        return await rt.services.caldav.configure(ADMIN, household, url, username, password)

    console.print(f"household {household} syncs with {_run(go)}")


@caldav_app.command("sync")
def caldav_sync(
    household: Annotated[int | None, typer.Option(help="One household; default all")] = None,
) -> None:
    """Sync now: Luna's events go to the calendar, the calendar's changes come to Luna."""

    async def go(rt: Runtime) -> Any:
        if household is not None:
            return [await rt.services.caldav.sync(ADMIN, household)]
        return await rt.services.caldav.sync_all()

    reports = _run(go)
    if not reports:
        console.print("no household has a CalDAV calendar configured")
    for r in reports:
        console.print(f"household {r.household_id} ↔ {r.calendar}: {r.pushed} sent, "
                      f"{r.pulled} received, {r.deleted_on_server} deleted there, "
                      f"{r.deleted_in_luna} deleted here, {r.skipped} skipped")
        for line in r.conflicts:
            console.print(f"  [yellow]conflict[/yellow] {line}")


def main() -> None:
    app()
