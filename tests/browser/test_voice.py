"""Talk to Luna: the browser's WebRTC call against a fake Realtime peer (aiortc), end to end."""

from __future__ import annotations

import json
import time
import typing
from typing import Annotated

from openai.types.realtime import RealtimeClientEvent, RealtimeSessionCreateRequest
from playwright.sync_api import Page, expect
from pydantic import Field, TypeAdapter

from luna.services.access import Actor
from tests.browser.conftest import FAKE_KEY, Live, run_async
from tests.browser.test_dashboard import login

CLIENT_EVENT = TypeAdapter(
    Annotated[
        typing.Union[typing.get_args(typing.get_args(RealtimeClientEvent)[0])],  # noqa: UP007
        Field(discriminator="type"),
    ]
)


def test_a_voice_call_runs_a_tool_on_the_server_and_saves_its_transcript(
    page: Page, live: Live
) -> None:
    fake = live.fake
    minted: list[str] = []
    page.on("response", lambda r: minted.append(r.text())
            if r.url.endswith("/api/realtime/client_secrets") else None)
    login(page, live)
    page.get_by_role("button", name="Talk to Luna").click()
    expect(page.locator("#voice-status")).to_contain_text("Connected", timeout=15_000)
    assert fake.finished.wait(15), f"the scripted call did not finish: {fake.errors}"
    log = page.locator("#chat-log")
    expect(log).to_contain_text(fake.script.user_text)
    expect(log).to_contain_text(fake.script.reply)
    expect(page.locator('.action-chip[data-tool="create_task"]')).to_contain_text("Buy oat milk")
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#voice-status")).to_contain_text("Call saved")
    interaction_id = page.evaluate("window.lunaVoice.interactionId")
    assert isinstance(interaction_id, int)

    # The server minted the key with the GA session; the browser never saw the server key.
    assert fake.secrets and all(FAKE_KEY not in body for body in minted)
    assert FAKE_KEY not in page.content()
    body = fake.secrets[-1]
    assert 60 <= body["expires_after"]["seconds"] <= 600
    session = RealtimeSessionCreateRequest.model_validate(body["session"])
    assert session.model == live.settings.realtime_model
    assert "Maya" in (session.instructions or "")
    assert "create_task" in {t.name for t in session.tools or [] if hasattr(t, "name")}

    # Everything the browser sent on the data channel is a valid GA client event.
    for event in fake.received:
        CLIENT_EVENT.validate_python(event)
    outputs = [e for e in fake.client_events("conversation.item.create")
               if e["item"]["type"] == "function_call_output"]
    assert len(outputs) == 1
    assert json.loads(outputs[0]["item"]["output"])["ok"] is True
    assert fake.client_events("response.create")
    assert not fake.errors

    async def saved() -> tuple[list[str], typing.Any]:
        actor = Actor(household_id=live.household_id, member_id=live.adult_id, role="adult")
        tasks = await live.services.tasks.list(actor, member_id=live.adult_id, status="open")
        call = await live.services.interactions.get(actor, interaction_id)
        return [t.title for t in tasks], call

    titles, call = run_async(saved)
    assert "Buy oat milk" in titles
    assert call.channel == "web_voice"
    assert [line["role"] for line in call.transcript] == ["user", "assistant"]
    assert call.transcript[0]["text"] == fake.script.user_text
    assert call.transcript[1]["text"] == fake.script.reply
    assert call.metadata["actions"][0]["tool"] == "create_task"
    assert call.metadata["usage"]["responses"] == 2

    page.goto(f"{live.url}/interactions/{interaction_id}")
    expect(page.locator("ol.transcript")).to_contain_text(fake.script.reply)
    page.goto(f"{live.url}/usage")
    expect(page.locator("#main")).to_contain_text("realtime audio output")


SPEECH_STUB = """
window.__spoken = [];
class StubRecognition {
  start() {
    const heard = {results: [[{transcript: "add a task to water the garden"}]]};
    setTimeout(() => this.onresult(heard), 50);
    setTimeout(() => this.onend && this.onend(), 80);
  }
  stop() {}
}
window.SpeechRecognition = StubRecognition;
window.webkitSpeechRecognition = StubRecognition;
window.speechSynthesis.speak = (utterance) => window.__spoken.push(utterance.text);
"""

NO_SPEECH = """
for (const name of ["SpeechRecognition", "webkitSpeechRecognition", "speechSynthesis"]) {
  Object.defineProperty(window, name, {value: undefined, configurable: true});
}
"""


def _as_if_the_server_had_no_key(page: Page) -> None:
    # The server renders data-mode="browser" without OPENAI_API_KEY (tests/integration/test_web).
    page.locator("#voice-button").evaluate("b => { b.dataset.mode = 'browser'; }")


def test_without_a_server_key_the_button_talks_through_the_browsers_own_speech(
    page: Page, live: Live
) -> None:
    page.add_init_script(SPEECH_STUB)
    login(page, live, next_path="/tasks")
    _as_if_the_server_had_no_key(page)
    page.get_by_role("button", name="Talk to Luna").click()
    log = page.locator("#chat-log")
    expect(log).to_contain_text("add a task to water the garden")
    expect(page.locator('.action-chip[data-tool="create_task"]')).to_contain_text("garden")
    # wait_for_function would eval() a string, which the page's CSP rightly forbids.
    deadline = time.monotonic() + 10
    while not page.evaluate("window.__spoken.length") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert "garden" in page.evaluate("window.__spoken[0]").lower()
    expect(page.locator(f'ul.task-list[data-member="{live.adult_id}"]')).to_contain_text(
        "Water the garden", ignore_case=True)


def test_with_neither_a_key_nor_browser_speech_the_button_says_so_plainly(
    page: Page, live: Live
) -> None:
    page.add_init_script(NO_SPEECH)
    login(page, live)
    _as_if_the_server_had_no_key(page)
    page.get_by_role("button", name="Talk to Luna").click()
    expect(page.locator("#voice-status")).to_contain_text("Voice isn't available here")
    expect(page.locator("#voice-status")).to_contain_text("You can still type to Luna")
