"""The FastAPI application: `create_app(settings)` builds it; its lifespan owns the resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from luna import __version__
from luna.brain.converse import Brain
from luna.channels import feeds, sms, voice, web
from luna.channels.api import (
    calendar,
    chat,
    checkins,
    chores,
    goals,
    habits,
    households,
    interactions,
    realtime,
    tasks,
    tools,
)
from luna.channels.api.errors import install_error_handlers
from luna.clock import Clock, SystemClock
from luna.config import Settings, load_settings
from luna.db.engine import Database
from luna.logging import configure_logging
from luna.scheduler.runner import running as scheduler_running
from luna.services.container import Services
from luna.tools import catalog


def create_app(
    settings: Settings, *, clock: Clock | None = None, services: Services | None = None
) -> FastAPI:
    """The app. Tests pass ready `services` (their own database); else the lifespan opens one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        if services is not None:
            async with sms.running(app), voice.running(app):
                yield
            return
        db = Database.from_settings(settings)
        app.state.services = Services.build(
            db, clock or SystemClock(), default_region=settings.default_region,
            settings=settings,
        )
        app.state.brain = Brain(app.state.services, app.state.registry, settings)
        try:
            async with db.checkpoints(), sms.running(app), voice.running(app), scheduler_running(
                app.state.services, settings, sms=app.state.outbound_sms
            ) as app.state.scheduler:
                yield
        finally:
            await app.state.brain.aclose()
            await db.dispose()

    app = FastAPI(title="Luna", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = catalog.load(settings)
    if services is not None:
        app.state.services = services
        app.state.brain = Brain(services, app.state.registry, settings)
    install_error_handlers(app)

    @app.get("/api/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for module in (
        households,
        tasks,
        habits,
        goals,
        checkins,
        chores,
        calendar,
        interactions,
        tools,
        chat,
    ):
        app.include_router(module.router)
    app.include_router(voice.router)
    app.include_router(feeds.router)
    app.include_router(realtime.router)
    app.add_middleware(sms.SmsWebhooks)  # inside the cross-site check, before the router
    web.install(app, settings)
    app.add_middleware(voice.StreamIO)  # outermost: the stream gets the server's own I/O
    return app


def app_from_environment() -> FastAPI:
    """The app of one `luna serve --workers N` process: its settings from the environment and
    .env, as the command's were."""
    return create_app(load_settings())
