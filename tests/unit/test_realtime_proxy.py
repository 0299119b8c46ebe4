"""OpenAI's Realtime socket honours the usual proxy variables, read once per process."""

from __future__ import annotations

from typing import Any

import pytest

from luna.config import load_settings
from luna.voice.bridge import VoiceHub


@pytest.fixture(autouse=True)
def _no_proxies_but_the_tests_own(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "WSS_PROXY", "WS_PROXY", "ALL_PROXY",
                 "SOCKS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _hub(**settings: Any) -> VoiceHub:
    hub = VoiceHub.__new__(VoiceHub)  # only the settings are needed here
    hub.settings = load_settings(env="test", **settings)
    return hub


def test_the_https_proxy_is_used_for_openai_and_read_only_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    hub = _hub()
    assert hub.realtime_proxy == "http://proxy.internal:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere:1")
    assert hub.realtime_proxy == "http://proxy.internal:3128"


def test_no_proxy_and_a_plain_ws_url_follow_the_environment_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.openai.com")
    assert _hub().realtime_proxy is None
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("HTTP_PROXY", "http://plain:8080")
    # A plain ws:// server (a self-hosted gateway) takes the HTTP proxy; wss:// would not.
    assert _hub(openai_realtime_url="ws://gateway.lan:9000/v1").realtime_proxy == (
        "http://plain:8080")
    assert _hub().realtime_proxy is None
