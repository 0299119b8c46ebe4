"""The playback tracker: what the caller heard, from marks and the clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from luna.config import Prices
from luna.voice.playback import PlaybackTracker
from luna.voice.transcript import Tally, Turn, cut_text, usage_items


def test_confirmed_marks_are_exact_positions() -> None:
    t = PlaybackTracker()
    m1 = t.on_audio("item", 0, 800, now_ms=0)     # 100 ms
    m2 = t.on_audio("item", 0, 800, now_ms=1)
    assert t.on_mark(m1, now_ms=100)
    assert t.played_ms("item", 0, now_ms=100) == 100
    assert t.truncate_point(100) == ("item", 0, 100)
    assert t.on_mark(m2, now_ms=200)
    assert t.idle and t.truncate_point(200) is None


def test_between_marks_the_position_runs_at_real_time_and_stops_at_the_chunk_end() -> None:
    t = PlaybackTracker()
    t.on_audio("item", 0, 1600, now_ms=1000)       # 200 ms sent at once
    assert t.played_ms("item", 0, now_ms=1050) == 50
    assert t.truncate_point(1120) == ("item", 0, 120)
    # No echo yet although the clock says it is over: never past what was received.
    assert t.played_ms("item", 0, now_ms=5000) == 200
    assert t.truncate_point(5000) is None


def test_a_chunk_sent_after_an_underrun_starts_playing_when_it_is_sent() -> None:
    t = PlaybackTracker()
    m = t.on_audio("item", 0, 800, now_ms=0)
    t.on_mark(m, now_ms=100)
    t.on_audio("item", 0, 800, now_ms=300)          # 200 ms of silence in between
    assert t.played_ms("item", 0, now_ms=350) == 150


def test_clear_bumps_the_generation_and_stale_marks_are_ignored() -> None:
    t = PlaybackTracker()
    old = t.on_audio("a", 0, 800, now_ms=0)
    t.on_clear()
    assert t.generation == 1 and t.idle
    assert not t.on_mark(old, now_ms=10)
    assert t.stale_marks == 1
    new = t.on_audio("b", 0, 800, now_ms=20)
    assert new.startswith("1:")
    assert t.truncate_point(70) == ("b", 0, 50)
    assert not t.on_mark("garbage", 80) and not t.on_mark("1:x", 80)


def test_truncate_targets_the_item_being_heard() -> None:
    t = PlaybackTracker()
    ma = t.on_audio("a", 0, 800, now_ms=0)
    t.on_audio("b", 0, 800, now_ms=5)
    assert t.truncate_point(50) == ("a", 0, 50)
    t.on_mark(ma, now_ms=100)
    assert t.playing() == ("b", 0)
    assert t.truncate_point(130) == ("b", 0, 30)


@given(st.lists(st.tuples(st.integers(1, 4000), st.integers(0, 300)), min_size=1, max_size=30),
       st.integers(0, 20_000))
def test_the_cut_is_never_negative_nor_past_the_audio(chunks: list[tuple[int, int]],
                                                     at: int) -> None:
    t = PlaybackTracker()
    now = 0
    for size, gap in chunks:
        now += gap
        t.on_audio("x", 0, size, now_ms=now)
    point = t.truncate_point(now + at)
    if point is not None:
        assert 0 <= point[2] < t.received_ms("x")


def test_cut_text_keeps_whole_words() -> None:
    text = "Hi Maya, it's Luna. How can I help you?"
    assert cut_text(text, 1.0) == text
    assert cut_text(text, 0.0) == ""
    assert cut_text(text, 0.3) == "Hi Maya"
    assert text.startswith(cut_text(text, 0.55))
    turn = Turn("assistant", "i", text, audio_ms=1000, heard_ms=300)
    assert turn.as_dict() == {"role": "assistant", "text": "Hi Maya", "interrupted": True,
                              "heard_ms": 300}


def test_cached_tokens_are_billed_once_at_the_cached_rate() -> None:
    t = Tally()
    t.add_response({"input_token_details": {"text_tokens": 1000, "audio_tokens": 500,
                                            "cached_tokens_details": {"text_tokens": 400,
                                                                      "audio_tokens": 100}},
                    "output_token_details": {"text_tokens": 50, "audio_tokens": 200}})
    t.add_transcription({"type": "tokens", "input_tokens": 100, "output_tokens": 10})
    t.add_transcription({"type": "duration", "seconds": 30})
    p = Prices()
    rows = {kind: (qty, cost) for kind, qty, _, cost in usage_items(t, p, call_seconds=60)}
    assert rows["realtime_text_input"][0] == 600
    assert rows["realtime_cached_text_input"][0] == 400
    assert rows["realtime_audio_input"][0] == 400
    assert rows["realtime_cached_audio_input"][0] == 100
    assert rows["call_minutes"] == (1.0, p.call_minute)
    assert rows["transcription"][0] == 0.5
    expected = (600 * p.realtime_text_input_per_mtok + 400 * p.realtime_cached_input_per_mtok
                + 400 * p.realtime_audio_input_per_mtok
                + 100 * p.realtime_cached_audio_input_per_mtok) / 1e6
    got = sum(rows[k][1] for k in ("realtime_text_input", "realtime_cached_text_input",
                                   "realtime_audio_input", "realtime_cached_audio_input"))
    assert abs(got - expected) < 1e-9


def test_audio_between_marks_joins_one_chunk_closed_by_the_next_mark() -> None:
    t = PlaybackTracker()
    assert t.on_audio("a", 0, 400, now_ms=0, mark=False) is None
    assert t.on_audio("a", 0, 400, now_ms=5, mark=False) is None
    assert t.unmarked_ms == 100
    name = t.mark()
    assert name == "0:1" and t.unmarked_ms == 0 and t.mark() is None
    assert t.truncate_point(60) == ("a", 0, 60)
    assert t.on_mark(name, now_ms=100) and t.idle
    # A new item closes the open chunk of the previous one.
    t.on_audio("a", 0, 80, now_ms=200, mark=False)
    t.on_audio("b", 0, 80, now_ms=201, mark=False)
    assert t.mark() == "0:3"
    assert t.on_mark("0:2", now_ms=210) and t.playing() == ("b", 0)
