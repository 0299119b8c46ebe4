"""A live stack on 127.0.0.1 for the phone tests: Luna under uvicorn (real WebSockets), the fake
OpenAI Realtime server, the fake Twilio Media Streams client, and Twilio's Calls REST resource
as an httpx transport."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from luna.channels.app import create_app
from luna.channels.sms.signature import sign
from luna.config import Settings, load_settings
from luna.db.engine import Database
from luna.db.models import Base
from luna.services.access import ADMIN, Actor
from luna.services.container import Services
from luna.services.members import MemberOut
from luna.testing.clock import FrozenClock
from luna.testing.fake_realtime import FakeRealtimeServer
from luna.testing.fake_twilio_media import FakeCallApi, FakeTwilioCall
from luna.voice.bridge import CallSession, VoiceHub
from luna.voice.calls import CallControl, stream_url
from luna.voice.direct_receive import UVICORN_WS
from tests.conftest import ADMIN_TOKEN

PUBLIC = "https://luna.example.test"
TWILIO_TOKEN = "twilio-test-auth-token"
ACCOUNT = "AC" + "1" * 32
CALLER = "+15550100001"


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Stack:
    settings: Settings
    services: Services
    hub: VoiceHub
    realtime: FakeRealtimeServer
    api: FakeCallApi
    member: MemberOut
    port: int
    calls: list[FakeTwilioCall] = field(default_factory=list)

    def member_actor(self) -> Actor:
        return Actor(household_id=self.member.household_id, member_id=self.member.id,
                     role="adult")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/assistant/voice/stream"

    def call(self, *, signed: bool = True, **params: str) -> FakeTwilioCall:
        parameters = {"member": str(self.member.id), "direction": "inbound", **params}
        c = FakeTwilioCall(self.ws_url, TWILIO_TOKEN if signed else None,
                           stream_url(self.settings), parameters)
        self.calls.append(c)
        return c

    async def post(self, path: str, form: dict[str, str], query: str = "") -> httpx.Response:
        """A webhook exactly as Twilio sends it: form body, signed over the public URL."""
        public = f"{PUBLIC}{path}" + (f"?{query}" if query else "")
        url = f"http://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")
        async with httpx.AsyncClient() as http:
            return await http.post(url, data=form, headers={
                "X-Twilio-Signature": sign(TWILIO_TOKEN, public, form)})

    async def session_for(self, call: FakeTwilioCall) -> CallSession:
        async with asyncio.timeout(5):
            while True:
                for s in (*self.hub.sessions, *self.hub.finished):
                    if s.call_sid == call.call_sid:
                        return s
                await asyncio.sleep(0.005)

    async def finished(self, call: FakeTwilioCall) -> CallSession:
        async with asyncio.timeout(8):
            while True:
                for s in self.hub.finished:
                    if s.call_sid == call.call_sid:
                        return s
                await asyncio.sleep(0.01)


def voice_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test", "admin_token": ADMIN_TOKEN, "database_url": "sqlite+aiosqlite://",
        "public_url": PUBLIC, "openai_api_key": SecretStr("sk-test"),
        "twilio_auth_token": SecretStr(TWILIO_TOKEN), "twilio_account_sid": ACCOUNT,
        "twilio_api_base": "http://twilio.fake",
    }
    return load_settings(**{**base, **overrides})


@asynccontextmanager
async def luna_stack(
    services: Services, realtime: FakeRealtimeServer | None = None, *, ws: str = UVICORN_WS,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Luna on a real uvicorn, by default with `luna serve`'s WebSocket protocol (direct
    receive); `ws="websockets-sansio"` runs the stream through plain ASGI receive instead."""
    rt = realtime or FakeRealtimeServer()
    async with rt:
        settings = voice_settings(openai_realtime_url=rt.url, **overrides)
        household = await services.members.create_household(
            ADMIN, name="Rivera", timezone="America/New_York", admin_name="Maya",
            admin_phone=CALLER,
        )
        member = await services.members.get(ADMIN, household.admin_member_id)
        app = create_app(settings, services=services)
        api = FakeCallApi(ACCOUNT)
        hub = VoiceHub(settings, services, app.state.registry,
                       control=CallControl(settings, http=api.client()),
                       converse=app.state.brain.converse)
        app.state.voice_hub = hub
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = _Server(uvicorn.Config(app, log_level="warning", ws=ws,
                                        timeout_graceful_shutdown=2, lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        stack = Stack(settings, services, hub, rt, api, member, port)
        try:
            yield stack
        finally:
            for c in stack.calls:
                await c.hang_up()
            server.should_exit = True
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def sqlite_services(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Services]:
    """Most phone tests are about the wire, not the database: SQLite only keeps them quick."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'voice.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield Services.build(db, clock)
    finally:
        await db.dispose()
