"""Segment counting (GSM-7 vs UCS-2), fitting replies without cutting words, and keywords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luna.channels.sms import keywords
from luna.channels.sms_text import (
    MAX_CHARS,
    cap,
    encoding,
    fit_reply,
    segment_count,
    smart_encode,
)


@pytest.mark.parametrize(("text", "segments"), [
    ("", 0),
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    ("a" * 459, 3),
    ("a" * 460, 4),
    # Extension characters take two septets.
    ("{" * 80, 1),
    ("{" * 81, 2),
    ("€" + "a" * 158, 1),
    ("€" + "a" * 159, 2),
    # Any non-GSM character makes the whole text UCS-2.
    ("ł" + "a" * 69, 1),
    ("ł" + "a" * 70, 2),
    ("ł" + "a" * 133, 2),
    ("ł" + "a" * 134, 3),
    # An emoji is two UTF-16 units.
    ("🙂" * 35, 1),
    ("🙂" * 36, 2),
])
def test_segment_count_follows_gsm7_and_ucs2_limits(text: str, segments: int) -> None:
    assert segment_count(text) == segments


def test_escape_pairs_never_straddle_two_parts() -> None:
    # 306 septets both times, which would be two parts by arithmetic alone; but a "€" at
    # septet 153 moves whole to part two, which then overflows.
    assert segment_count("a" * 151 + "€" + "a" * 153) == 2
    assert segment_count("a" * 152 + "€" + "a" * 152) == 3


def test_surrogate_pairs_never_straddle_two_parts() -> None:
    assert segment_count("a" * 66 + "🙂" + "a" * 66) == 3
    assert segment_count("ł" + "a" * 65 + "a" * 67) == 2


def test_encoding_and_smart_quotes() -> None:
    assert encoding("Hello, Maya! 10€ @ home") == "GSM-7"
    assert encoding("Done 🙂") == "UCS-2"
    assert smart_encode("It’s “done” – really…") == "It's \"done\" - really..."
    assert encoding(fit_reply("It’s “done” – really…")) == "GSM-7"


def test_a_short_reply_is_only_tidied() -> None:
    assert fit_reply("  Added   “milk”  to your list.  ") == 'Added "milk" to your list.'


def test_a_long_reply_fits_three_segments_at_a_sentence_end() -> None:
    sentence = "Your chores today are laundry, dishes and the recycling bin. "
    reply = fit_reply(sentence * 12)
    assert segment_count(reply) <= 3
    assert reply.endswith("bin.")
    assert len(reply) > 300


def test_a_long_sentence_is_cut_after_a_whole_word_with_an_ellipsis() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    reply = fit_reply(words, max_segments=1)
    assert segment_count(reply) == 1
    assert reply.endswith("...")
    head = reply.removesuffix("...")
    assert head.split(" ")[-1] in words.split(" ")
    assert words.startswith(head)


def test_a_ucs2_reply_gets_a_unicode_ellipsis_and_keeps_whole_words() -> None:
    text = "Great job 🙂 " + " ".join(["keep going"] * 60)
    reply = fit_reply(text, max_segments=2)
    assert segment_count(reply) <= 2
    assert reply.endswith("…")
    assert reply.removesuffix("…").endswith(("keep", "going"))


def test_a_single_huge_word_is_the_only_thing_ever_split() -> None:
    reply = fit_reply("x" * 2000, max_segments=3)
    assert segment_count(reply) == 3
    assert reply.endswith("...")


def test_cap_holds_the_1600_character_limit_at_a_word() -> None:
    text = "lorem ipsum " * 300
    capped = cap(text)
    assert len(capped) <= MAX_CHARS
    assert capped.endswith("...")
    assert capped.removesuffix("...").rstrip().endswith(("lorem", "ipsum"))
    assert cap("short") == "short"


@given(st.text(alphabet=st.sampled_from("abc é{€🙂.!? \n"), max_size=2000),
       st.integers(min_value=1, max_value=10))
def test_fit_reply_always_fits(text: str, max_segments: int) -> None:
    reply = fit_reply(text, max_segments)
    assert segment_count(reply) <= max_segments
    assert len(reply) <= MAX_CHARS


@pytest.mark.parametrize(("body", "word"), [
    ("STOP", "opt_out"), ("stop", "opt_out"), (" Stop. ", "opt_out"), ("STOPALL", "opt_out"),
    ("unsubscribe", "opt_out"), ("Cancel", "opt_out"), ("END", "opt_out"), ("quit!", "opt_out"),
    ("START", "opt_in"), ("unstop", "opt_in"), ("Help", "help"), ("help?", "help"),
    ("stop reminding me about the trash", None), ("help me plan my week", None),
    ("", None), ("starting now", None),
])
def test_keywords_are_whole_messages_only(body: str, word: str | None) -> None:
    assert keywords.keyword(body) == word


def test_fixed_answers_fit_one_gsm_segment() -> None:
    for text in (keywords.OPTED_OUT, keywords.HELP, keywords.STILL_OPTED_OUT,
                 keywords.UNKNOWN_SENDER, keywords.TROUBLE, keywords.opted_in_text("Maya")):
        assert encoding(text) == "GSM-7", text
        assert segment_count(text) == 1, (len(text), text)
    assert "STOP" in keywords.HELP and "START" in keywords.OPTED_OUT
