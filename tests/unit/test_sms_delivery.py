"""Delivery-status ordering and the background task supervisor the SMS slow path relies on."""

from __future__ import annotations

import asyncio

import pytest

from luna.background import TaskSupervisor
from luna.services.sms_inbox import delivery_advances


@pytest.mark.parametrize(("old", "new", "moves"), [
    ("queued", "sent", True), ("sent", "delivered", True), ("queued", "delivered", True),
    ("delivered", "sent", False), ("delivered", "queued", False), ("sent", "sent", False),
    ("sent", "failed", True), ("sent", "undelivered", True), ("delivered", "read", True),
    ("outbox", "sent", True), ("queued", "bogus", False),
])
def test_status_callbacks_only_move_a_message_forward(old: str, new: str, moves: bool) -> None:
    assert delivery_advances(old, new) is moves


async def test_close_waits_for_running_work_within_the_grace_period() -> None:
    done: list[str] = []

    async def reply_later() -> None:
        await asyncio.sleep(0.05)
        done.append("sent")

    tasks = TaskSupervisor(grace_s=5)
    tasks.spawn(reply_later(), name="reply")
    assert len(tasks) == 1
    await tasks.close()
    assert done == ["sent"] and len(tasks) == 0


async def test_close_cancels_what_outlives_the_grace_period_and_refuses_new_work() -> None:
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks = TaskSupervisor(grace_s=0.05)
    tasks.spawn(stuck())
    await tasks.close()
    assert cancelled.is_set()

    async def late() -> None:
        return None

    with pytest.raises(RuntimeError, match="shutting down"):
        tasks.spawn(late())


async def test_a_failing_task_is_logged_not_lost(capsys: pytest.CaptureFixture[str]) -> None:
    async def boom() -> None:
        raise ValueError("nope")

    tasks = TaskSupervisor()
    tasks.spawn(boom(), name="boom")
    await tasks.drain()
    assert "background_task_failed" in capsys.readouterr().out
