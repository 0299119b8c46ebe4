"""The `luna` command: init, members, tokens, the demo family, tools, and serve answering."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from luna.cli import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LUNA_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return {"LUNA_DATABASE_URL": url}


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_init_member_token_and_tool(env: dict[str, str]) -> None:
    out = _run("init", "--name", "Okafor", "--timezone", "Europe/Berlin", "--admin-name", "Ada")
    assert "household 1" in out and "luna_" in out
    out = _run("member", "add", "--household", "1", "--name", "Obi", "--role", "child")
    assert "member 2: Obi (child)" in out
    assert "luna_" in _run("token", "create", "--member", "2")
    out = _run("tool", "create_task", "--member", "1", "--args",
               json.dumps({"title": "Water the plants", "due": "tomorrow at 9am"}))
    body = json.loads(out)
    assert body["ok"] is True and body["result"]["title"] == "Water the plants"
    assert body["result"]["due_at"].endswith(("+01:00", "+02:00"))


def test_tool_errors_exit_nonzero_with_a_clear_message(env: dict[str, str]) -> None:
    _run("init", "--admin-name", "Ada")
    result = CliRunner().invoke(app, ["tool", "complete_task", "--member", "1", "--args",
                                      '{"task": "nothing like this"}'])
    assert result.exit_code == 1 and "not_found" in result.output
    result = CliRunner().invoke(app, ["tool", "no_such_tool", "--member", "1"])
    assert result.exit_code != 0 and "unknown tool" in result.output
    result = CliRunner().invoke(app, ["tool", "get_tasks", "--member", "99"])
    assert result.exit_code == 1 and "not_found" in result.output


def test_demo_loads_once(env: dict[str, str]) -> None:
    assert "demo household 1 loaded" in _run("demo")
    assert "already has households" in _run("demo")
    out = _run("tool", "get_chores", "--member", "1")
    assert json.loads(out)["ok"] is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_prints_a_login_token(env: dict[str, str]) -> None:
    _run("demo")
    port = _free_port()
    luna = Path(sys.executable).with_name("luna")
    proc = subprocess.Popen(
        [str(luna), "serve", "--port", str(port)], env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "luna serve did not answer in 30 s"
                time.sleep(0.2)
        assert r.json() == {"status": "ok"}
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert "login?token=luna_" in output


def test_serve_with_two_workers_answers_texts_and_runs_one_scheduler(
    env: dict[str, str],
) -> None:
    """`luna serve --workers 2` on SQLite: texts are answered whichever worker takes them (a
    task added through one is known to the other at once), and one worker runs the ticks."""
    import asyncio

    from luna.channels.sms.simulator import send_text
    from luna.config import load_settings

    _run("demo")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "LUNA_TWILIO_AUTH_TOKEN": "workers-test-token", "LUNA_PUBLIC_URL": base}
    luna = Path(sys.executable).with_name("luna")
    proc = subprocess.Popen(
        [str(luna), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    settings = load_settings(database_url=env["LUNA_DATABASE_URL"],
                             twilio_auth_token=env["LUNA_TWILIO_AUTH_TOKEN"], public_url=base)

    async def texts() -> list[str | None]:
        replies = []
        for animal in ("llama", "alpaca", "ibex", "okapi"):
            for text in (f"add feed the {animal} tomorrow", f"done with feed the {animal}"):
                sent = await send_text(settings, base, "+15550100001", text)  # Maya
                assert sent.status_code == 200, sent.body
                replies.append(sent.reply)
        return replies

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "luna serve did not answer in 30 s"
                time.sleep(0.2)
        replies = asyncio.run(texts())
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=15)
    done = replies[1::2]
    assert all(r is not None and "checked off" in r for r in done), replies
    assert output.count("Started server process") == 2, output
    assert output.count("scheduler_standby") == 1, output
