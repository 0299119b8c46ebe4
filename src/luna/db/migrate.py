"""Run Alembic migrations from code (the CLI and the tests), without reading alembic.ini paths."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    """The migrations ship inside the package, so this works from any install."""
    cfg = Config()
    cfg.set_main_option("script_location", "luna:migrations")
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    return cfg


def _in_thread(fn: object, *args: object) -> None:
    # env.py runs its own event loop; from inside a running loop it needs a thread of its own.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)  # type: ignore[operator]
        return
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def upgrade(database_url: str, revision: str = "head") -> None:
    _ensure_sqlite_dir(database_url)
    _in_thread(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    _in_thread(command.downgrade, alembic_config(database_url), revision)


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite") and ":///" in url and ":memory:" not in url:
        path = Path(url.split(":///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
