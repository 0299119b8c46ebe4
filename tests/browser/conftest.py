"""A live Luna on 127.0.0.1 (uvicorn in a thread, a temp SQLite file, the demo family), a fake
Realtime WebRTC service, and Debian's Chromium driven by Playwright.

Playwright's sync API keeps an event loop running in the main thread while it is open, so the
browser lives in package-scoped fixtures: closed before the async tests of other packages run.

Without /usr/bin/chromium (or Playwright) these tests are skipped, except in CI (CI=true),
where a missing browser is a failure: CI installs Chromium with apt.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from luna.channels.app import create_app
from luna.clock import SystemClock
from luna.config import Settings, load_settings
from luna.db.engine import Database
from luna.db.models import Base
from luna.demo import load_demo
from luna.services.access import ADMIN, Actor
from luna.services.chores import ScheduleIn
from luna.services.container import Services
from luna.testing.fake_webrtc_realtime import FakeRealtimePeer

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
FAKE_KEY = "sk-test-fake-realtime"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None


# Without Playwright the test modules cannot even be imported: outside CI they are left out.
collect_ignore_glob = ["test_*.py"] if sync_playwright is None and not IN_CI else []


def _missing() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return "Debian's Chromium is missing: apt-get install -y chromium"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None or IN_CI:
        return  # in CI a missing browser fails in the fixture below, loudly
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Live:
    """The running server and the people and things the tests use."""

    url: str
    settings: Settings
    household_id: int
    adult_token: str
    adult_id: int
    child_token: str
    child_id: int
    joe_id: int
    chore_id: int
    chore_title: str
    habit_id: int
    call_id: int
    other_token: str
    other_task: str
    other_member: str
    fake: FakeRealtimePeer
    services: Services

    def login_url(self, token: str, next_path: str = "/overview") -> str:
        return f"{self.url}/login?token={token}&next={next_path}"


async def _seed(services: Services) -> dict[str, Any]:
    demo = await load_demo(services, force=True)
    assert demo is not None
    hid = demo.household_id
    members = await services.members.list(ADMIN, hid)
    by_name = {m.name: m for m in members}
    maya = Actor(household_id=hid, member_id=demo.admin_member_id, role="adult")
    ava = by_name["Ava"]
    joe = by_name["Joe"]
    child = await services.members.create_token(ADMIN, ava.id, "browser test")
    # A chore nobody has done yet, so completing it visibly moves points and streak.
    chore = await services.chores.create(
        maya, title="Water the plants", points=3, assignee_id=joe.id,
        schedule=ScheduleIn(kind="every_n_days", interval_days=1),
    )
    habits = await services.habits.list(maya, member_id=demo.admin_member_id)
    habit = next((h for h in habits if h.name == "Journaling"), habits[0])
    call = await services.interactions.record(
        hid, demo.admin_member_id, "voice", "inbound", user_message=None,
        assistant_response=None,
        transcript=[
            {"role": "user", "text": "Can you remind me to pick up the dry cleaning?"},
            {"role": "assistant", "text": "Sure, Maya. I added pick up the dry cleaning for "
                                          "tomorrow at five."},
        ],
        metadata={"duration_s": 42, "tool_calls": [{"tool": "create_task", "ok": True}]},
        usage=[("realtime_audio_input", 1800, "tokens", 0.018),
               ("realtime_audio_output", 900, "tokens", 0.018)],
    )
    other = await services.members.create_household(
        ADMIN, name="The Okafor family", timezone="America/Chicago", admin_name="Chidi",
        admin_phone="+15550200001",
    )
    okafor = Actor(household_id=other.id, member_id=other.admin_member_id, role="adult")
    await services.tasks.create(okafor, title="Okafor secret surprise party",
                                due_at=services.clock.now() + timedelta(hours=3))
    await services.chores.create(okafor, title="Okafor mow the lawn",
                                 schedule=ScheduleIn(kind="every_n_days", interval_days=1))
    return {
        "household_id": hid, "adult_token": demo.token, "adult_id": demo.admin_member_id,
        "child_token": child.token, "child_id": ava.id, "joe_id": joe.id,
        "chore_id": chore.id, "chore_title": chore.title, "habit_id": habit.id,
        "call_id": call.id, "other_token": other.token,
        "other_task": "Okafor secret surprise party", "other_member": "Chidi",
    }


def run_async(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop in a thread: Playwright's sync API owns this thread's."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(fn()))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread is not the main thread
        pass


@pytest.fixture(scope="package")
def fake_realtime() -> Iterator[FakeRealtimePeer]:
    with FakeRealtimePeer(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory,
         fake_realtime: FakeRealtimePeer) -> Iterator[Live]:
    db_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('live') / 'luna.db'}"
    settings = load_settings(
        env="test", database_url=db_url, brain_mode="local_only",
        OPENAI_API_KEY=FAKE_KEY, openai_realtime_base_url=fake_realtime.base_url,
    )

    async def prepare() -> dict[str, Any]:
        db = Database(settings.database_url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            return await _seed(Services.build(db, SystemClock()))
        finally:
            await db.dispose()

    seeded = run_async(prepare)
    server = _Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0,
                                    log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="luna-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live Luna server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    # Reads for assertions go through a second handle on the same SQLite file.
    db = Database(settings.database_url)
    try:
        yield Live(url=f"http://127.0.0.1:{port}", settings=settings, fake=fake_realtime,
                   services=Services.build(db, SystemClock()), **seeded)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        run_async(db.dispose)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    reason = _missing()
    if reason is not None:
        pytest.fail(f"browser tests need Chromium in CI: {reason}")
    assert sync_playwright is not None
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
