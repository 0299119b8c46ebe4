"""Phone calls end to end on 127.0.0.1: fake Twilio Media Streams ↔ Luna ↔ fake OpenAI Realtime.

The fakes keep real time (20 ms frames, playback at 8 bytes per ms), so the audio is short."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from luna.services.access import ADMIN
from luna.services.container import Services
from luna.testing.fake_realtime import CallTool, FakeRealtimeServer, Say
from luna.testing.fake_twilio import FakeTwilio
from luna.voice.direct_receive import UVICORN_WS, direct_receive
from luna.voice.realtime_send import audio_sender, immediate_writer
from tests.protocol.conftest import ACCOUNT, CALLER, TWILIO_TOKEN, Stack, luna_stack

GREETING = "Hi Maya, it's Luna. How can I help you this afternoon?"


def _kinds(events: list[dict[str, object]]) -> list[object]:
    return [e["type"] for e in events]


async def _greeted(s: Stack, call: object, ms: int) -> None:
    from luna.testing.fake_twilio_media import FakeTwilioCall

    assert isinstance(call, FakeTwilioCall)
    await call.wait_for(lambda: call.media_bytes >= ms * 8)
    await call.wait_for(lambda: not call.playing and not call._pending_marks)


async def test_the_greeting_reaches_the_caller_in_mulaw(sqlite_services: Services) -> None:
    rt = FakeRealtimeServer([Say(GREETING, 600)])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 600)
        update = rt.sessions[0].session_updates[0]
        assert update["type"] == "realtime"
        assert update["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert update["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "marin"}
        td = update["audio"]["input"]["turn_detection"]
        assert td["type"] == "server_vad" and td["interrupt_response"] and td["create_response"]
        assert update["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
        assert "Maya" in update["instructions"]
        names = {t["name"] for t in update["tools"]}
        assert {"hang_up", "create_task", "transfer_to_habit_coach"} <= names
        assert call.media_bytes == 600 * 8
        # Today's briefing follows as a note once the greeting is under way.
        notes = [i.text for i in rt.sessions[0].items.values() if i.role == "system"]
        assert len(notes) == 1 and notes[0].startswith("Today's briefing")
        await call.stop()
    rt.assert_clean()


SERVERS = pytest.mark.parametrize("ws", [UVICORN_WS, "websockets-sansio"],
                                  ids=["direct-receive", "plain-asgi"])
"""The bridge behaves the same whether frames come by direct receive (`luna serve`) or through
ASGI receive() (any other server)."""


@SERVERS
async def test_caller_audio_reaches_realtime_whole_and_off_the_sdk_queue(
    sqlite_services: Services, ws: str
) -> None:
    rt = FakeRealtimeServer([Say(GREETING, 300)])
    async with luna_stack(sqlite_services, rt, ws=ws) as s, s.call() as call:
        await _greeted(s, call, 300)
        session = next(iter(s.hub.sessions))
        conn = session.conn
        assert conn is not None
        # The hot path writes onto the SDK connection's websocket (see voice/realtime_send.py);
        # if an SDK upgrade renames it, this fails instead of the bridge silently slowing down.
        assert audio_sender(conn) == conn._connection.send
        assert immediate_writer(conn) is not None
        # ... and the frames came the way this server delivers them.
        assert (direct_receive(session.ws.scope) is not None) == (ws == UVICORN_WS)
        sent = rt.sessions[0].audio_in_bytes
        await asyncio.sleep(0.5)
        # ~25 frames of 20 ms in half a second, merged three at a time, all valid appends.
        assert rt.sessions[0].audio_in_bytes - sent >= 15 * 160
        assert (rt.sessions[0].audio_in_bytes - sent) % 160 == 0
        await call.stop()
    rt.assert_clean()


@SERVERS
async def test_barge_in_mid_sentence_clears_and_truncates_at_what_was_heard(
    sqlite_services: Services, ws: str
) -> None:
    rt = FakeRealtimeServer([Say(GREETING, 3000), Say("Sure, here's your day.", 400)],
                            transcripts=["what's on today"])
    async with luna_stack(sqlite_services, rt, ws=ws) as s, s.call() as call:
        await call.wait_for(lambda: call.played_ms() >= 900)
        call.talk(400)
        await call.wait_for(lambda: call.clears)
        server = rt.sessions[0]
        await rt.wait_for(lambda: server.truncations)
        heard = call.clears[0].played_ms
        cut = server.truncations[0].audio_end_ms
        assert abs(cut - heard) <= 40, (cut, heard)
        assert 900 <= heard < 3000
        # The caller stops talking; Luna answers with fresh audio after the clear.
        await call.wait_for(lambda: len(server.responses) == 2)
        await call.wait_for(lambda: call.bytes_since(call.clears[0].at) >= 400 * 8)
        await call.wait_for(lambda: not call.playing)
        await call.stop()
        session = await s.finished(call)
    first = session.calllog.turns[0]
    assert first.role == "assistant" and first.heard_ms == cut
    said = first.heard_text()
    assert said and len(said) < len(GREETING) and GREETING.startswith(said)
    assert [t.role for t in session.calllog.spoken()] == ["assistant", "user", "assistant"]
    rt.assert_clean()


async def test_barge_in_after_playback_ended_sends_no_truncate(sqlite_services: Services) -> None:
    rt = FakeRealtimeServer([Say(GREETING, 500), Say("Okay.", 300)])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 500)
        session = await s.session_for(call)
        await call.wait_for(lambda: session.tracker.idle)
        call.talk(300)
        server = rt.sessions[0]
        await rt.wait_for(lambda: len(server.responses) == 2)
        await call.wait_for(lambda: call.media_bytes >= 800 * 8)
        assert server.truncations == []
        assert call.clears == []
        assert "conversation.item.truncate" not in _kinds(server.received)
        await call.stop()
    rt.assert_clean()


async def test_marks_flushed_by_a_clear_are_ignored_and_the_next_barge_in_is_exact(
    sqlite_services: Services,
) -> None:
    rt = FakeRealtimeServer([Say(GREETING, 2500), Say("Sure, one thing at a time.", 2500),
                             Say("Okay.", 300)])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        session = await s.session_for(call)
        await call.wait_for(lambda: call.played_ms() >= 500)
        call.talk(300)
        await call.wait_for(lambda: call.clears)
        server = rt.sessions[0]
        # Twilio echoed the discarded marks at once; Luna counts none of them as played.
        await call.wait_for(lambda: session.tracker.stale_marks >= 1)
        await rt.wait_for(lambda: len(server.responses) == 2)
        await call.wait_for(lambda: call.played_ms() >= 700)
        call.talk(300)
        await call.wait_for(lambda: len(call.clears) == 2)
        await rt.wait_for(lambda: len(server.truncations) == 2)
        second = server.truncations[1]
        assert second.item_id != server.truncations[0].item_id
        assert abs(second.audio_end_ms - call.clears[1].played_ms) <= 40
        await call.stop()
    rt.assert_clean()


async def test_a_tool_call_runs_while_luna_keeps_talking(sqlite_services: Services) -> None:
    rt = FakeRealtimeServer([
        Say("Hi Maya.", 300),
        CallTool("create_task", {"title": "Call mom"}, say="Sure, let me add that for you.",
                 say_ms=1500),
        Say("Done, it's on your list.", 500),
    ], transcripts=["add call mom"])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 300)
        call.talk(300)
        server = rt.sessions[0]
        await rt.wait_for(lambda: server.tool_outputs)
        # The tool's result came back while the caller was still hearing Luna.
        assert call.playing
        output = json.loads(server.tool_outputs[0]["output"])
        assert output["ok"] is True and output["result"]["title"] == "Call mom"
        outputs = [i for i, e in enumerate(server.received)
                   if e["type"] == "conversation.item.create"
                   and e["item"]["type"] == "function_call_output"]
        assert server.received[outputs[0] + 1]["type"] == "response.create"
        await call.wait_for(lambda: call.media_bytes >= (300 + 1500 + 500) * 8)
        await call.stop()
        session = await s.finished(call)
    assert [a.tool for a in session.actions] == ["create_task"]
    tasks = await sqlite_services.tasks.list(s.member_actor(), status="open")
    assert [t.title for t in tasks] == ["Call mom"]
    rt.assert_clean()


async def test_a_handoff_keeps_the_phone_leg_on_pcmu(sqlite_services: Services) -> None:
    rt = FakeRealtimeServer([
        Say("Hi Maya.", 300),
        CallTool("transfer_to_habit_coach", {"reason": "wants to build a habit"}),
        Say("Habit coach here. What habit are we building?", 500),
    ])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 300)
        call.talk(300)
        server = rt.sessions[0]
        await rt.wait_for(lambda: len(server.session_updates) == 2 and server.tool_outputs)
        handoff = server.session_updates[1]
        assert handoff["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert handoff["audio"]["output"] == {"format": {"type": "audio/pcmu"}}  # no voice
        assert "habit coach" in handoff["instructions"].lower()
        names = {t["name"] for t in handoff["tools"]}
        assert {"log_habit", "transfer_back_to_luna", "hang_up"} <= names
        assert "create_goal" not in names
        kinds = _kinds(server.received)
        i = kinds.index("session.update", 1)
        assert kinds[i + 1:i + 3] == ["conversation.item.create", "response.create"]
        await call.wait_for(lambda: call.media_bytes >= 800 * 8)
        await call.stop()
        session = await s.finished(call)
    assert session.agents_used == ["luna", "habit_coach"]
    assert session.calllog.spoken()[-1].agent == "habit_coach"
    rt.assert_clean()


async def test_a_response_the_server_started_itself_wins_the_race_quietly(
    sqlite_services: Services,
) -> None:
    rt = FakeRealtimeServer([
        Say("Hi Maya.", 300),
        CallTool("get_tasks", {}),
        Say("You have nothing due.", 400),
        Say("Anything else?", 300),
    ], respond_to_tool_output=True)
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 300)
        call.talk(300)
        server = rt.sessions[0]
        await rt.wait_for(lambda: len(server.responses) == 3)
        await call.wait_for(lambda: call.media_bytes >= 700 * 8)
        await call.wait_for(lambda: not call.playing)
        # Luna's response.create met the server's own response: one benign error, no retry.
        assert server.errors_sent == ["conversation_already_has_active_response"]
        assert server.response_creates == 2  # the greeting, and the one that lost the race
        assert len(server.responses) == 3
        await call.stop()
    rt.assert_clean()


@SERVERS
async def test_malformed_oversized_and_unknown_twilio_frames_do_not_drop_the_call(
    sqlite_services: Services, ws: str
) -> None:
    rt = FakeRealtimeServer([Say("Hi Maya.", 300), Say("I'm still here.", 400)])
    async with luna_stack(sqlite_services, rt, ws=ws) as s, s.call() as call:
        await _greeted(s, call, 300)
        for junk in ("not json", "[1,2]", '{"event":"media","media":{"payload":12}}',
                     '{"event":"media","media":{"payload":"abc"}}', '{"event":"mark"}',
                     '{"event":"dtmf","dtmf":{}}', '{"event":"brand-new-thing"}',
                     '{"noevent":true}', "x" * 100_000):
            await call.send_raw(junk)
        await call.send_raw(b"\x00\x01binary")
        await call.dtmf("5")
        call.talk(300)
        server = rt.sessions[0]
        await rt.wait_for(lambda: len(server.responses) == 2)
        await call.wait_for(lambda: call.media_bytes >= 700 * 8)
        session = await s.session_for(call)
        assert session.malformed >= 6 and session.unknown == 1 and session.oversized == 1
        assert session.dtmf == ["5"]
        await call.stop()
    rt.assert_clean()


async def test_a_dropped_openai_socket_is_rebuilt_from_the_transcript(
    sqlite_services: Services,
) -> None:
    rt = FakeRealtimeServer([Say("Hi Maya.", 300), Say("Okay, noted.", 300),
                             Say("Yes, you asked about the dentist.", 400)],
                            transcripts=["remind me about the dentist", "what did I ask?"])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 300)
        call.talk(300)
        first = rt.sessions[0]
        await call.wait_for(lambda: call.media_bytes >= 600 * 8)
        await call.wait_for(lambda: not call.playing)
        first.drop()
        await rt.wait_for(lambda: len(rt.sessions) == 2 and rt.sessions[1].session_updates)
        second = rt.sessions[1]
        await rt.wait_for(lambda: len(second.items) >= 3)
        texts = [i.text for i in second.items.values() if i.role != "system"]
        assert texts[:3] == ["Hi Maya.", "remind me about the dentist", "Okay, noted."]
        assert second.session_updates[0]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
        call.talk(300)
        await rt.wait_for(lambda: second.responses)
        await call.wait_for(lambda: call.media_bytes >= 1000 * 8)
        await call.wait_for(lambda: not call.playing)
        await call.stop()
        session = await s.finished(call)
    assert session.reconnects == 1 and session.ended_by == "caller"
    assert session.calllog.joined("assistant").endswith("you asked about the dentist.")
    rt.assert_clean()


async def test_a_call_outlives_the_session_cap_by_rolling_over(sqlite_services: Services) -> None:
    rt = FakeRealtimeServer([Say("Hi Maya.", 300), Say("Still here.", 300)],
                            transcripts=["are you there"])
    async with luna_stack(sqlite_services, rt, realtime_session_max_s=1.0) as s, s.call() as call:
        await _greeted(s, call, 300)
        await rt.wait_for(lambda: len(rt.sessions) >= 2)
        await rt.wait_for(lambda: rt.sessions[0].closed)
        call.talk(300)
        await call.wait_for(lambda: call.media_bytes >= 600 * 8)
        assert any(x.text == "Hi Maya." for x in rt.sessions[1].items.values())
        await call.stop()
    rt.assert_clean()


async def test_when_realtime_cannot_come_back_the_live_call_moves_to_gather(
    sqlite_services: Services,
) -> None:
    rt = FakeRealtimeServer([Say("Hi Maya.", 300)])
    async with luna_stack(sqlite_services, rt) as s, s.call() as call:
        await _greeted(s, call, 300)
        rt.refuse = True
        rt.sessions[0].drop()
        await call.wait_for(lambda: s.api.calls_to(f"{call.call_sid}.json"), within=8)
        update = s.api.calls_to(f"{call.call_sid}.json")[0]
        assert "/assistant/webhooks/voice/gather?" in update["Url"] and "resume=1" in update["Url"]
        query = update["Url"].split("?", 1)[1]
        r = await s.post("/assistant/webhooks/voice/gather",
                         {"CallSid": call.call_sid, "From": CALLER}, query)
        assert r.status_code == 200
        assert "<Gather" in r.text and "hiccup" in r.text
        await call.stop()
        session = await s.finished(call)
    assert session.ended_by == "fallback" and rt.refused >= 1


async def test_without_an_openai_key_calls_run_on_gather_and_converse(
    sqlite_services: Services,
) -> None:
    async with luna_stack(sqlite_services, openai_api_key=None) as s:
        form = {"CallSid": "CA" + "2" * 32, "From": CALLER, "To": "+15559990000",
                "Direction": "inbound"}
        r = await s.post("/assistant/webhooks/voice/incoming", form)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
        gather_url = "https://luna.example.test/assistant/webhooks/voice/gather?"
        assert f'<Gather action="{gather_url}' in r.text
        assert 'input="speech"' in r.text and "Hi Maya" in r.text
        assert s.realtime.sessions == []
        query = r.text.split("gather?", 1)[1].split('"', 1)[0].replace("&amp;", "&")
        r = await s.post("/assistant/webhooks/voice/gather",
                         {**form, "SpeechResult": "add buy milk to my list"}, query)
        assert r.status_code == 200 and "<Say>" in r.text and "<Gather" in r.text
        r = await s.post("/assistant/webhooks/voice/gather", {**form, "SpeechResult": "bye"},
                         query)
        assert "<Hangup" in r.text
        async with httpx.AsyncClient() as http:
            unsigned = await http.post(f"http://127.0.0.1:{s.port}/assistant/webhooks/voice/"
                                       "incoming", data=form)
        assert unsigned.status_code == 403
        rows = await sqlite_services.interactions.list(s.member_actor(), channel="voice")
        assert any(i.user_message == "add buy milk to my list" for i in rows)


async def test_the_incoming_webhook_streams_and_prewarms_realtime(
    sqlite_services: Services,
) -> None:
    rt = FakeRealtimeServer([Say("Hi Maya.", 300)])
    async with luna_stack(sqlite_services, rt) as s:
        call = s.call()
        form = {"CallSid": call.call_sid, "From": CALLER, "Direction": "inbound"}
        r = await s.post("/assistant/webhooks/voice/incoming", form)
        assert '<Stream url="wss://luna.example.test/assistant/voice/stream">' in r.text
        assert f'<Parameter name="member" value="{s.member.id}" />' in r.text
        assert '<Parameter name="direction" value="inbound" />' in r.text
        # The Realtime socket is opening (and configured) before Twilio connects the stream.
        await rt.wait_for(lambda: rt.sessions and rt.sessions[0].session_updates)
        async with call:
            await _greeted(s, call, 300)
            assert len(rt.sessions) == 1
            await call.stop()
        unknown = await s.post("/assistant/webhooks/voice/incoming",
                               {**form, "From": "+15550009999"})
        assert "isn't set up" in unknown.text and "<Hangup" in unknown.text
    rt.assert_clean()


async def test_an_unsigned_stream_upgrade_is_refused_with_1008(sqlite_services: Services) -> None:
    async with luna_stack(sqlite_services) as s:
        for headers in ({}, {"X-Twilio-Signature": "bogus"}):
            async with connect(s.ws_url, additional_headers=headers) as ws:
                with pytest.raises(Exception):  # noqa: B017 - closed is all that matters
                    await asyncio.wait_for(ws.recv(), 2)
                assert ws.close_code == 1008
        assert s.realtime.sessions == []
        with pytest.raises(InvalidStatus):
            async with connect(f"ws://127.0.0.1:{s.port}/assistant/voice/nope"):
                pass


@SERVERS
@pytest.mark.parametrize("ending", ["stop", "hang_up"])
async def test_the_caller_hanging_up_closes_the_openai_socket_within_a_second(
    sqlite_services: Services, ending: str, ws: str
) -> None:
    rt = FakeRealtimeServer([Say(GREETING, 3000)])
    async with luna_stack(sqlite_services, rt, ws=ws) as s, s.call() as call:
        await call.wait_for(lambda: call.played_ms() >= 300)
        began = time.monotonic()
        await (call.stop() if ending == "stop" else call.hang_up())
        await rt.wait_for(lambda: rt.sessions[0].closed, within=2)
        assert rt.sessions[0].closed_at is not None
        assert rt.sessions[0].closed_at - began < 1.0
        session = await s.finished(call)
    # Luna was mid-sentence: the transcript keeps what the caller heard before hanging up.
    assert session.calllog.turns[0].heard_ms is not None
    rt.assert_clean()


async def test_a_call_is_one_interaction_with_transcript_actions_usage_and_cost(
    services: Services,
) -> None:
    rt = FakeRealtimeServer([
        Say("Hi Maya.", 300),
        CallTool("create_task", {"title": "Call the dentist"}, say="On it.", say_ms=300),
        Say("Added. Anything else?", 400),
        CallTool("hang_up", say="Talk soon, bye!", say_ms=400),
    ], transcripts=["add call the dentist", "no, that's all"])
    async with luna_stack(services, rt) as s, s.call() as call:
        # Twilio ends the stream once Luna's hang-up reaches its REST API.
        s.api.on_request = lambda path, form: (
            asyncio.ensure_future(call.stop()) if form.get("Status") == "completed" else None)
        await _greeted(s, call, 300)
        call.talk(300)
        await call.wait_for(lambda: call.media_bytes >= 1000 * 8)
        await call.wait_for(lambda: not call.playing)
        call.talk(300)
        session = await s.finished(call)
        assert s.api.calls_to(f"{call.call_sid}.json") == [{"Status": "completed"}]
        token = await services.members.create_token(ADMIN, s.member.id)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.port}") as http:
            r = await http.get("/api/interactions", params={"channel": "voice"},
                               headers={"Authorization": f"Bearer {token.token}"})
    assert r.status_code == 200
    (row,) = r.json()
    assert row["id"] == session.interaction_id and row["direction"] == "inbound"
    assert [t["role"] for t in row["transcript"]] == [
        "assistant", "user", "assistant", "assistant", "user", "assistant"]
    assert row["transcript"][1]["text"] == "add call the dentist"
    assert row["transcript"][-1]["text"] == "Talk soon, bye!"
    meta = row["metadata"]
    assert meta["call_sid"] == call.call_sid and meta["ended_by"] == "luna"
    assert [a["tool"] for a in meta["actions"]] == ["create_task"]
    assert meta["actions"][0]["ok"] is True
    assert meta["duration_s"] > 1
    assert meta["usage"]["responses"] == 4 and meta["usage"]["audio_out"] > 0
    assert meta["usage"]["transcribe_in"] == 80
    assert meta["cost_usd"] > 0
    rt.assert_clean()


async def test_an_outbound_call_streams_with_its_purpose_and_no_answer_becomes_a_text(
    sqlite_services: Services,
) -> None:
    sms = FakeTwilio(ACCOUNT, TWILIO_TOKEN)
    async with sms as base, luna_stack(sqlite_services, twilio_from_number="+15559990000",
                                       twilio_api_base=base) as s:
        sid = await s.hub.outbound.call_member(s.member.id, "evening_reflection")
        (placed,) = s.api.calls_to("/Calls.json")
        assert placed["To"] == CALLER and placed["From"] == "+15559990000"
        assert placed["MachineDetection"] == "Enable"
        incoming_query = placed["Url"].split("?", 1)[1]
        assert "purpose=evening_reflection" in incoming_query
        answered = {"CallSid": sid, "From": "+15559990000", "To": CALLER,
                    "Direction": "outbound-api", "AnsweredBy": "human"}
        r = await s.post("/assistant/webhooks/voice/incoming", answered, incoming_query)
        assert '<Parameter name="direction" value="outbound" />' in r.text
        assert '<Parameter name="purpose" value="evening_reflection" />' in r.text
        # Voicemail: hang up and text instead.
        r = await s.post("/assistant/webhooks/voice/incoming",
                         {**answered, "CallSid": "CA" + "7" * 32, "AnsweredBy": "machine_start"},
                         incoming_query)
        assert "<Hangup" in r.text and "<Stream" not in r.text
        # No answer at all: the status callback sends the text.
        status_query = placed["StatusCallback"].split("?", 1)[1]
        r = await s.post("/assistant/webhooks/voice/status",
                         {"CallSid": "CA" + "8" * 32, "CallStatus": "no-answer"}, status_query)
        assert r.status_code == 204
        r = await s.post("/assistant/webhooks/voice/status",
                         {"CallSid": "CA" + "8" * 32, "CallStatus": "no-answer"}, status_query)
        assert r.status_code == 204  # a repeated callback is harmless
        voice = await sqlite_services.interactions.list(s.member_actor(), channel="voice")
        assert sorted(i.metadata["status"] for i in voice) == ["no-answer", "voicemail"]
        assert all(i.metadata["fallback"] == "sms" for i in voice)
        texts = await sms.wait_for_messages(2)
        assert [t["To"] for t in texts] == [CALLER, CALLER]
        assert "evening reflection" in texts[0]["Body"]
    sms.assert_clean()
