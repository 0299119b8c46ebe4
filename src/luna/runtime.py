"""`async with Runtime(settings)`: the database and services for the CLI and scripts."""

from __future__ import annotations

from types import TracebackType

from luna.clock import Clock, SystemClock
from luna.config import Settings
from luna.db.engine import Database
from luna.services.container import Services


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = Database.from_settings(settings)
        self.services = Services.build(
            self.db, clock or SystemClock(), default_region=settings.default_region,
            settings=settings,
        )

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.db.dispose()
