"""The SMS webhook with real Twilio signatures: who may post, exactly once, fast and slow replies,
keywords and opt-out, the outbound port and delivery status."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from structlog.testing import capture_logs
from typer.testing import CliRunner

from luna import cli
from luna.brain.types import ConversationInput, ConversationResult
from luna.channels.app import create_app
from luna.channels.sms import keywords
from luna.channels.sms.signature import sign
from luna.channels.sms.webhook import MAX_BODY_BYTES
from luna.channels.sms_text import segment_count
from luna.config import Settings, load_settings
from luna.errors import Upstream
from luna.outbound.sms import OutboundSms, OutboxSmsSender, SentSms
from luna.services.access import ADMIN
from luna.services.container import Services
from luna.services.sms_inbox import SmsInbox
from luna.testing.fake_openai import FakeOpenAI, call, calls, reply
from luna.testing.fake_twilio import FakeTwilio
from tests.conftest import ADMIN_TOKEN, Family, make_family

TOKEN = "test-twilio-auth-token"
PUBLIC = "https://luna.example.org"
ACCOUNT = "AC" + "a" * 32
LUNA_NUMBER = "+15557654321"
ADULT = "+15550100001"
CHILD = "+15550100002"
STRANGER = "+15559990000"
INCOMING = "/assistant/webhooks/sms/incoming"
STATUS = "/assistant/webhooks/sms/status"
_sids = itertools.count(1)


def sms_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test", "admin_token": ADMIN_TOKEN, "database_url": "sqlite+aiosqlite://",
        "public_url": PUBLIC, "twilio_auth_token": TOKEN, "twilio_account_sid": ACCOUNT,
        "brain_mode": "local_only",
    }
    return load_settings(**{**base, **overrides})


@pytest.fixture
def settings() -> Settings:
    return sms_settings()


@asynccontextmanager
async def running(
    services: Services, settings: Settings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan (which starts the SMS channel), and a client over it."""
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app, c


@pytest.fixture
async def app_and_client(
    services: Services, settings: Settings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running(services, settings) as pair:
        yield pair


@pytest.fixture
def app(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return app_and_client[0]


@pytest.fixture
def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


class CountingBrain:
    """The app's real Brain, counted (and optionally slowed down or broken)."""

    def __init__(self, inner: Any, delay_s: float = 0.0, fail: bool = False) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.fail = fail
        self.inputs: list[ConversationInput] = []
        self.entered = asyncio.Event()

    async def converse(self, inp: ConversationInput) -> ConversationResult:
        self.inputs.append(inp)
        self.entered.set()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("the brain fell over")
        result: ConversationResult = await self.inner.converse(inp)
        return result


def counted(app: FastAPI, **kwargs: Any) -> CountingBrain:
    brain = CountingBrain(app.state.brain, **kwargs)
    app.state.brain = brain
    return brain


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, body: str, *, status_callback: str | None) -> SentSms:
        self.sent.append((to, body))
        return SentSms(sid=f"SM{len(self.sent):032d}", status="queued")


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def twilio_form(body: str, sid: str, sender: str = ADULT) -> dict[str, str]:
    """What Twilio posts for an incoming SMS (field names and shape as Twilio sends them)."""
    return {
        "ToCountry": "US", "ToState": "NY", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "NEW YORK", "FromZip": "10001", "SmsSid": sid, "FromState": "NY",
        "SmsStatus": "received", "FromCity": "NEW YORK", "Body": body, "FromCountry": "US",
        "To": LUNA_NUMBER, "ToZip": "10001", "NumSegments": str(max(1, segment_count(body))),
        "MessageSid": sid, "AccountSid": ACCOUNT, "From": sender, "ApiVersion": "2010-04-01",
    }


async def post_signed(
    client: httpx.AsyncClient, path: str, form: dict[str, str], *,
    signed_url: str | None = None, token: str = TOKEN, signature: str | None = None,
    send_form: dict[str, str] | None = None,
) -> httpx.Response:
    sig = signature if signature is not None else sign(token, signed_url or PUBLIC + path, form)
    headers = {"X-Twilio-Signature": sig} if sig else {}
    return await client.post(path, data=send_form or form, headers=headers)


async def text(
    client: httpx.AsyncClient, body: str, sid: str | None = None, sender: str = ADULT
) -> httpx.Response:
    r = await post_signed(client, INCOMING, twilio_form(body, sid or new_sid(), sender))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    return r


def message_of(r: httpx.Response) -> str | None:
    root = ET.fromstring(r.text)
    assert root.tag == "Response"
    found = root.find("Message")
    return None if found is None else found.text


async def tasks_of(client: httpx.AsyncClient, family: Family) -> list[dict[str, Any]]:
    r = await client.get("/api/tasks", headers=family.headers())
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def sms_interactions(client: httpx.AsyncClient, family: Family) -> list[dict[str, Any]]:
    r = await client.get("/api/interactions", params={"channel": "sms"},
                         headers=family.headers())
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def usage_kinds(client: httpx.AsyncClient, family: Family) -> dict[str, dict[str, Any]]:
    r = await client.get("/api/usage", params={"year": 2026, "month": 3},
                         headers=family.headers())
    assert r.status_code == 200, r.text
    return {u["kind"]: u for u in r.json() if u["member_id"] == family.adult_id}


# --- signatures ---------------------------------------------------------------------------------


async def test_a_signed_text_is_handled_and_answered_inline(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app)
    sid = new_sid()
    r = await text(client, "remind me to call the dentist", sid)
    reply_text = message_of(r)
    assert reply_text and "dentist" in reply_text.lower()
    assert [i.external_id for i in brain.inputs] == [sid]
    assert brain.inputs[0].channel == "sms" and brain.inputs[0].member.id == family.adult_id
    assert [t["title"].lower() for t in await tasks_of(client, family)] == ["call the dentist"]
    stored = await SmsInbox(services.db, services.clock).get(sid)
    assert stored is not None and stored.status == "replied" and stored.reply_via == "twiml"
    assert stored.reply == reply_text and stored.member_id == family.adult_id
    [turn] = await sms_interactions(client, family)
    assert turn["user_message"] == "remind me to call the dentist"
    assert turn["assistant_response"] == reply_text
    usage = await usage_kinds(client, family)
    assert usage["sms_inbound"]["quantity"] == 1
    assert usage["sms_outbound"]["quantity"] == segment_count(reply_text)
    assert usage["sms_outbound"]["cost_usd"] == pytest.approx(
        segment_count(reply_text) * 0.0083)


@pytest.mark.parametrize("attack", ["tampered_body", "wrong_url", "missing_header",
                                    "wrong_token", "empty_header", "query_added"])
async def test_a_bad_signature_is_refused_with_403_and_nothing_happens(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services, attack: str
) -> None:
    brain = counted(app)
    sid = new_sid()
    form = twilio_form("remind me to call the dentist", sid)
    path = INCOMING
    kwargs: dict[str, Any] = {}
    if attack == "tampered_body":
        kwargs["send_form"] = {**form, "Body": "remind me to transfer all the money"}
    elif attack == "wrong_url":
        kwargs["signed_url"] = "https://evil.example.com" + INCOMING
    elif attack == "missing_header":
        kwargs["signature"] = ""
    elif attack == "wrong_token":
        kwargs["token"] = "not-the-token"
    elif attack == "empty_header":
        r = await client.post(INCOMING, data=form, headers={"X-Twilio-Signature": ""})
        assert r.status_code == 403
        kwargs["signature"] = "bm90IGEgc2lnbmF0dXJl"
    elif attack == "query_added":
        kwargs["signed_url"] = PUBLIC + INCOMING
        path = INCOMING + "?member=1"
    r = await post_signed(client, path, form, **kwargs)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "forbidden"
    assert brain.inputs == []
    assert await SmsInbox(services.db, services.clock).get(sid) is None
    assert await tasks_of(client, family) == []
    assert await sms_interactions(client, family) == []


async def test_an_oversized_body_is_refused_with_413_before_anything_is_read_into_a_turn(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app)
    sid = new_sid()
    form = twilio_form("remind me to call the dentist", sid)
    form["Padding"] = "x" * (MAX_BODY_BYTES + 1)
    r = await post_signed(client, INCOMING, form)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "too_large"
    assert brain.inputs == []
    assert await SmsInbox(services.db, services.clock).get(sid) is None


@pytest.mark.parametrize("path", [INCOMING, STATUS])
async def test_the_webhooks_answer_only_post(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"] == "method_not_allowed"


async def test_blank_fields_are_part_of_the_signed_form(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    # Twilio signs every field it posts, empty ones too (an MMS without text has Body="").
    form = {**twilio_form("hello", new_sid()), "MediaUrl0": "", "ToZip": ""}
    r = await post_signed(client, INCOMING, form)
    assert r.status_code == 200, r.text
    r = await post_signed(client, INCOMING, form, send_form={
        k: v for k, v in form.items() if k != "MediaUrl0"})
    assert r.status_code == 403


async def test_a_body_that_is_not_a_form_is_unsigned_and_refused(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    brain = counted(app)
    form = twilio_form("hello", new_sid())
    sig = sign(TOKEN, PUBLIC + INCOMING, form)
    r = await client.post(INCOMING, json=form, headers={"X-Twilio-Signature": sig})
    assert r.status_code == 403
    assert brain.inputs == []


async def test_the_signature_covers_the_query_string_of_the_public_url(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    form = twilio_form("hello", new_sid())
    r = await post_signed(client, INCOMING + "?src=twilio", form,
                          signed_url=PUBLIC + INCOMING + "?src=twilio")
    assert r.status_code == 200, r.text


async def test_signatures_are_checked_against_the_public_url_not_the_request_host(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    # The client talks to http://testserver; Twilio signed the public https URL.
    form = twilio_form("hello", new_sid())
    r = await post_signed(client, INCOMING, form, signed_url="http://testserver" + INCOMING)
    assert r.status_code == 403
    assert (await post_signed(client, INCOMING, form)).status_code == 200


async def test_a_signature_over_the_public_url_with_its_default_port_is_accepted_too(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    """Twilio sometimes signs the URL with the scheme's port spelled out; the library accepts
    both spellings, and so does Luna, which checks the URL as configured first."""
    assert PUBLIC.startswith("https://") and PUBLIC.count(":") == 1  # no port, no path
    form = twilio_form("hello", new_sid())
    r = await post_signed(client, INCOMING, form, signed_url=PUBLIC + ":443" + INCOMING)
    assert r.status_code == 200, r.text
    r = await post_signed(client, INCOMING, twilio_form("hello", new_sid()),
                          signed_url=PUBLIC + ":8443" + INCOMING)
    assert r.status_code == 403


def test_turning_signatures_off_is_refused_in_prod() -> None:
    with pytest.raises(ValueError, match="development"):
        load_settings(env="prod", sms_validate_signatures=False)
    assert load_settings(env="prod").webhook_auth_token() is None
    assert load_settings(env="dev").webhook_auth_token() == "luna-dev-twilio-auth-token"


async def test_with_signatures_off_unsigned_posts_work_and_the_start_warns_loudly(
    services: Services, family: Family, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running(services, sms_settings(sms_validate_signatures=False)) as (_, c):
        r = await c.post(INCOMING, data=twilio_form("hello", new_sid()))
    assert r.status_code == 200 and message_of(r)
    [warning] = [line for line in capsys.readouterr().out.splitlines()
                 if "SMS_SIGNATURES_OFF" in line]
    assert "warning" in warning and "Development only" in warning


# --- exactly once -------------------------------------------------------------------------------


async def test_twenty_concurrent_deliveries_of_one_sid_make_one_action_and_one_reply(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app)
    sid = new_sid()
    form = twilio_form("remind me to buy milk", sid)
    responses = await asyncio.gather(*(post_signed(client, INCOMING, form) for _ in range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert len(brain.inputs) == 1
    assert [t["title"].lower() for t in await tasks_of(client, family)] == ["buy milk"]
    stored = await SmsInbox(services.db, services.clock).get(sid)
    assert stored is not None and stored.status == "replied"
    # Every inline answer is the one stored reply (a retry gets back what was lost); it was
    # composed once, recorded once, and nothing was sent through the outbound port.
    replies = {message_of(r) for r in responses} - {None}
    assert replies == {stored.reply}
    assert len(await sms_interactions(client, family)) == 1
    r = await client.get("/api/messages", params={"kind": "sms"}, headers=family.headers())
    assert r.json() == []


async def test_a_retry_after_the_reply_gets_the_stored_reply_without_a_second_turn(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    brain = counted(app)
    sid = new_sid()
    first = message_of(await text(client, "remind me to water the plants", sid))
    again = message_of(await text(client, "remind me to water the plants", sid))
    assert first and again == first
    assert len(brain.inputs) == 1
    assert len(await tasks_of(client, family)) == 1


async def test_a_duplicate_while_the_first_is_still_thinking_gets_empty_twiml(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app, delay_s=0.5)
    sid = new_sid()
    form = twilio_form("remind me to book flights", sid)
    first = asyncio.create_task(post_signed(client, INCOMING, form))
    await brain.entered.wait()
    dup = await post_signed(client, INCOMING, form)
    assert dup.status_code == 200 and message_of(dup) is None
    assert message_of(await first)
    assert len(brain.inputs) == 1


async def test_a_failing_turn_apologises_once_and_is_not_run_again(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app, fail=True)
    sid = new_sid()
    assert message_of(await text(client, "remind me to fix the sink", sid)) == keywords.TROUBLE
    assert message_of(await text(client, "remind me to fix the sink", sid)) == keywords.TROUBLE
    assert len(brain.inputs) == 1
    stored = await SmsInbox(services.db, services.clock).get(sid)
    assert stored is not None and stored.status == "failed"
    [turn] = await sms_interactions(client, family)
    assert turn["metadata"]["handled_by"] == "error"
    assert turn["assistant_response"] == keywords.TROUBLE


# --- fast and slow ------------------------------------------------------------------------------


async def test_a_slow_turn_answers_empty_twiml_at_once_and_the_reply_follows_via_the_outbox(
    services: Services, family: Family
) -> None:
    settings = sms_settings(sms_reply_budget_s=0.2)
    async with running(services, settings) as (app, c):
        brain = counted(app, delay_s=1.0)
        sid = new_sid()
        started = time.perf_counter()
        r = await text(c, "remind me to renew the passport", sid)
        assert time.perf_counter() - started < 1.0
        assert message_of(r) is None
        await app.state.tasks.drain()
        # A retry now must not repeat what already went out through the port.
        assert message_of(await text(c, "remind me to renew the passport", sid)) is None
        outbox = (await c.get("/api/messages", params={"kind": "sms"},
                              headers=family.headers())).json()
    assert len(brain.inputs) == 1
    assert len(outbox) == 1 and outbox[0]["to_phone"] == ADULT
    assert "passport" in outbox[0]["body"].lower() and outbox[0]["status"] == "outbox"
    stored = await SmsInbox(services.db, services.clock).get(sid)
    assert stored is not None and stored.reply_via == "rest" and stored.reply == outbox[0]["body"]


async def test_the_20_second_llm_turn_answers_in_under_a_second_and_the_reply_goes_via_twilio(
    services: Services, family: Family
) -> None:
    if services.db.dialect != "sqlite":
        pytest.skip("the 20-second turn runs once, on SQLite; the outbox test covers both")
    llm = FakeOpenAI([
        calls(call("create_task", title="Call the plumber"), delay_s=20),
        reply("Done! I added \u201cCall the plumber\u201d to your list."),
    ])
    twilio = FakeTwilio(ACCOUNT, TOKEN)
    async with llm as llm_url, twilio as twilio_url:
        settings = sms_settings(
            brain_mode="llm_only", openai_base_url=llm_url, twilio_api_base=twilio_url,
            twilio_from_number=LUNA_NUMBER, sms_reply_budget_s=0.5,
        )
        async with running(services, settings) as (app, c):
            assert app.state.outbound_sms.twilio
            sid = new_sid()
            started = time.perf_counter()
            r = await text(c, "please add calling the plumber to my list", sid)
            assert time.perf_counter() - started < 1.0
            assert message_of(r) is None
            async with asyncio.timeout(40):
                [sent] = await twilio.wait_for_messages(1)
            await app.state.tasks.drain()
            # The retry Twilio makes meanwhile gets nothing: the reply already went out.
            assert message_of(await text(c, "please add calling the plumber to my list",
                                         sid)) is None
            assert len(await tasks_of(c, family)) == 1
            outbox = (await c.get("/api/messages", params={"kind": "sms"},
                                  headers=family.headers())).json()
            usage = await usage_kinds(c, family)
    llm.assert_complete()
    twilio.assert_clean()
    assert sent["To"] == ADULT and sent["From"] == LUNA_NUMBER
    assert sent["Body"] == 'Done! I added "Call the plumber" to your list.'
    assert sent["StatusCallback"] == PUBLIC + STATUS
    assert [(m["body"], m["status"]) for m in outbox] == [(sent["Body"], "queued")]
    assert usage["sms_outbound"]["quantity"] == 1
    assert usage["chat_input_tokens"]["quantity"] > 0


# --- keywords and opt-out -----------------------------------------------------------------------


async def test_stop_opts_out_and_suppresses_proactive_sms_and_start_opts_back_in(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app)
    sender = RecordingSender()
    outbound = OutboundSms(services, sender, app.state.settings)
    assert message_of(await text(client, "STOP")) == keywords.OPTED_OUT
    assert (await services.members.get(ADMIN, family.adult_id)).sms_opt_out is True

    delivery = await outbound.send_to_member(family.adult_id, "Time for your check-in!",
                                             "checkin")
    assert delivery.status == "suppressed" and sender.sent == []
    # The app's own port, and family messages, honour it too.
    assert (await app.state.outbound_sms.send_to_member(
        family.adult_id, "Morning briefing", "briefing")).status == "suppressed"
    r = await client.post("/api/tools/send_family_message",
                          json={"arguments": {"to": ["Maya"], "body": "hi"}},
                          headers={"Authorization": f"Bearer {family.child_token}"})
    assert r.json()["result"]["deliveries"][0]["status"] == "suppressed"

    # While opted out, Luna does not converse over SMS; it says how to come back.
    assert message_of(await text(client, "remind me to call mom")) == keywords.STILL_OPTED_OUT
    assert brain.inputs == [] and await tasks_of(client, family) == []

    assert message_of(await text(client, "Start")) == keywords.opted_in_text("Maya")
    assert (await services.members.get(ADMIN, family.adult_id)).sms_opt_out is False
    delivery = await outbound.send_to_member(family.adult_id, "Time for your check-in!",
                                             "checkin")
    assert delivery.status == "sent" and sender.sent == [(ADULT, "Time for your check-in!")]
    assert delivery.interaction_id is not None and delivery.segments == 1


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "end", "QUIT", "stop."])
async def test_every_stop_word_opts_out(
    client: httpx.AsyncClient, family: Family, services: Services, word: str
) -> None:
    assert message_of(await text(client, word, sender=CHILD)) == keywords.OPTED_OUT
    assert (await services.members.get(ADMIN, family.child_id)).sms_opt_out is True
    assert message_of(await text(client, "UNSTOP", sender=CHILD)) == keywords.opted_in_text("Ava")
    assert (await services.members.get(ADMIN, family.child_id)).sms_opt_out is False


async def test_help_says_what_luna_does_and_how_to_stop(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    brain = counted(app)
    answer = message_of(await text(client, "HELP"))
    assert answer == keywords.HELP and "STOP" in answer and "task" in answer
    assert brain.inputs == []
    [turn] = await sms_interactions(client, family)
    assert turn["metadata"]["handled_by"] == "keyword" and turn["assistant_response"] == answer


async def test_an_unknown_number_gets_a_short_polite_reply_and_is_logged_masked(
    app: FastAPI, client: httpx.AsyncClient, family: Family, services: Services
) -> None:
    brain = counted(app)
    sid = new_sid()
    with capture_logs() as logs:
        answer = message_of(await text(client, "hello who is this", sid, sender=STRANGER))
    assert answer == keywords.UNKNOWN_SENDER and segment_count(answer) == 1
    assert brain.inputs == []
    logged = [e for e in logs if e["event"] == "sms_unknown_sender"]
    assert logged and logged[0]["sender"] == "+1••••••0000"
    assert STRANGER not in repr(logs)
    stored = await SmsInbox(services.db, services.clock).get(sid)
    assert stored is not None and stored.household_id is None
    assert await sms_interactions(client, family) == []


# --- the outbound port and delivery status ------------------------------------------------------


async def test_proactive_sms_via_twilio_are_stored_and_status_callbacks_update_them(
    services: Services, family: Family
) -> None:
    twilio = FakeTwilio(ACCOUNT, TOKEN)
    async with twilio as twilio_url:
        settings = sms_settings(twilio_api_base=twilio_url, twilio_from_number=LUNA_NUMBER)
        async with running(services, settings) as (app, c):
            delivery = await app.state.outbound_sms.send_to_member(
                family.child_id, "Don't forget: trash goes out tonight", "chore_reminder")
            assert delivery.status == "sent" and delivery.sid
            [sent] = twilio.messages
            assert sent["To"] == CHILD and sent["StatusCallback"] == PUBLIC + STATUS

            async def report(status: str, signed: bool = True) -> int:
                form = {"MessageSid": delivery.sid or "", "MessageStatus": status,
                        "SmsSid": delivery.sid or "", "SmsStatus": status,
                        "AccountSid": ACCOUNT, "From": LUNA_NUMBER, "To": CHILD,
                        "ApiVersion": "2010-04-01"}
                r = await post_signed(c, STATUS, form, signature=None if signed else "x")
                return r.status_code

            async def status_now() -> str:
                r = await c.get("/api/messages", params={"kind": "sms"},
                                headers=family.headers())
                return str(r.json()[0]["status"])

            assert await report("delivered", signed=False) == 403
            assert await status_now() == "queued"
            assert await report("sent") == 204
            assert await report("delivered") == 204
            assert await report("sent") == 204  # late and out of order: ignored
            assert await status_now() == "delivered"
            [turn] = [i for i in (await c.get(
                "/api/interactions", params={"member_id": family.child_id},
                headers=family.headers())).json() if i["direction"] == "outbound"]
            assert turn["assistant_response"] == "Don't forget: trash goes out tonight"
            assert turn["metadata"]["kind"] == "chore_reminder"
    twilio.assert_clean()


async def test_a_refused_twilio_send_raises_upstream(services: Services, family: Family) -> None:
    twilio = FakeTwilio(ACCOUNT, TOKEN)
    async with twilio as twilio_url:
        settings = sms_settings(twilio_api_base=twilio_url, twilio_from_number=LUNA_NUMBER)
        async with running(services, settings) as (app, _):
            twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
            with pytest.raises(Upstream, match="21610"):
                await app.state.outbound_sms.send_to_member(family.adult_id, "hi", "test")


async def test_without_twilio_credentials_proactive_sms_land_in_the_outbox(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    assert not app.state.outbound_sms.twilio
    delivery = await app.state.outbound_sms.send_to_member(family.adult_id, "Hello!", "test")
    assert delivery.status == "outbox"
    r = await client.get("/api/messages", params={"kind": "sms"}, headers=family.headers())
    assert [(m["body"], m["status"], m["to_phone"]) for m in r.json()] == [
        ("Hello!", "outbox", ADULT)]


async def test_a_text_acts_for_the_member_whose_number_sent_it(
    app: FastAPI, client: httpx.AsyncClient, family: Family
) -> None:
    counted(app)
    other = await make_family(client, name="Okafor", phone_prefix="+1555020")
    await text(client, "remind me to pay rent", sender="+15550200001")
    assert await tasks_of(client, family) == []
    r = await client.get("/api/tasks", headers=other.headers())
    assert [t["title"].lower() for t in r.json()] == ["pay rent"]


# --- the phone simulator ------------------------------------------------------------------------


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def test_luna_sms_posts_a_signed_text_to_a_running_luna_and_prints_the_reply(
    services: Services, family: Family, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("LUNA_TWILIO_AUTH_TOKEN", "LUNA_TWILIO_ACCOUNT_SID", "LUNA_ENV"):
        monkeypatch.delenv(name, raising=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LUNA_PUBLIC_URL", base)
    # No Twilio token anywhere: server and simulator both fall back to the dev token.
    settings = load_settings(env="dev", database_url="sqlite+aiosqlite://", public_url=base,
                             brain_mode="local_only")
    app = create_app(settings, services=services)
    counted(app)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        runner = CliRunner()
        ok = await asyncio.to_thread(
            runner.invoke, cli.app, ["sms", "--from", ADULT, "remind me to feed the cat"])
        assert ok.exit_code == 0, ok.output
        assert "Luna" in ok.output and "feed the cat" in ok.output.lower()
        stranger = await asyncio.to_thread(
            runner.invoke, cli.app, ["sms", "--from", STRANGER, "hello"])
        assert "don't know this number" in stranger.output
        monkeypatch.setenv("LUNA_TWILIO_DEV_AUTH_TOKEN", "a-different-token")
        refused = await asyncio.to_thread(
            runner.invoke, cli.app, ["sms", "--from", ADULT, "hello"])
        assert refused.exit_code == 1 and "403" in refused.output
    finally:
        server.should_exit = True
        await task
    r = await client_tasks(services, family)
    assert r == ["feed the cat"]


async def client_tasks(services: Services, family: Family) -> list[str]:
    actor = await services.members.authenticate(family.adult_token)
    return [t.title.lower() for t in await services.tasks.list(actor)]


async def test_a_late_reply_is_not_sent_to_a_member_who_texted_stop_meanwhile(
    services: Services, family: Family
) -> None:
    async with running(services, sms_settings(sms_reply_budget_s=0.1)) as (app, c):
        brain = counted(app, delay_s=0.5)
        sid = new_sid()
        assert message_of(await text(c, "remind me to call grandma", sid)) is None
        assert message_of(await text(c, "STOP")) == keywords.OPTED_OUT
        await app.state.tasks.drain()
        outbox = (await c.get("/api/messages", params={"kind": "sms"},
                              headers=family.headers())).json()
    assert len(brain.inputs) == 1 and outbox == []
    stored = await SmsInbox(services.db, services.clock).get(sid)
    assert stored is not None and stored.reply_via is None and stored.status == "replied"


async def test_in_development_the_outbox_prints_each_sms_with_the_phone_masked(
    services: Services, family: Family, settings: Settings
) -> None:
    outbound = OutboundSms(services, OutboxSmsSender(services, echo=True), settings)
    with capture_logs() as logs:
        delivery = await outbound.send_to_member(family.adult_id, "Water the plants", "test")
    assert delivery.status == "outbox"
    [printed] = [e for e in logs if e["event"] == "sms_outbox"]
    assert printed["to"] == "+1••••••0001" and printed["body"] == "Water the plants"
    assert ADULT not in repr(logs)
