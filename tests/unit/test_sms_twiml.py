"""The webhook's TwiML is exactly what twilio's MessagingResponse renders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from luna.channels.sms.webhook import twiml


def _library(reply: str | None) -> str:
    r = MessagingResponse()
    if reply:
        r.message(reply)
    return str(r)


@pytest.mark.parametrize("reply", [
    None, "", "Added “call the dentist”.", "5 > 3 & 2 < 4", 'She said "hi" & it\'s done',
    "line one\nline two", "✓ done 👍", "&amp; stays literal", "]]> and <![CDATA[",
])
def test_a_reply_renders_as_the_library_renders_it(reply: str | None) -> None:
    assert twiml(reply).body.decode() == _library(reply)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80))
def test_any_printable_reply_renders_as_the_library_renders_it(reply: str) -> None:
    assert twiml(reply).body.decode() == _library(reply)
