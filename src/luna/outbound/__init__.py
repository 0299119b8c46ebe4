"""Ports for reaching members: SMS (Twilio or the local outbox); calls come later."""

from luna.outbound.sms import (
    Delivery,
    OutboundSms,
    OutboxSmsSender,
    SentSms,
    SmsSender,
    TwilioSmsSender,
    build_sms_sender,
)

__all__ = [
    "Delivery",
    "OutboundSms",
    "OutboxSmsSender",
    "SentSms",
    "SmsSender",
    "TwilioSmsSender",
    "build_sms_sender",
]
