"""Phone calls: Twilio Media Streams bridged to OpenAI Realtime, and the <Gather> path without it.

twilio_codec (pure wire format), playback (pure: what the caller heard), realtime_events (the
client events and their contract check), transcript (pure: turns and the bill), bridge (the
socket loop), calls (Twilio REST call control), gather (TwiML turns through converse()).
"""
