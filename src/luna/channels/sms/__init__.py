"""The SMS channel: Twilio's webhooks in, the outbound port out, started by the app's lifespan.

    async with sms.running(app):   # sets app.state.tasks, .outbound_sms and .sms
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from luna.background import TaskSupervisor
from luna.channels.sms.inbound import SmsChannel
from luna.channels.sms.webhook import SmsWebhooks
from luna.config import Settings
from luna.outbound.sms import OutboundSms, build_sms_sender
from luna.services.container import Services

log = structlog.get_logger(__name__)

__all__ = ["SmsChannel", "SmsWebhooks", "running"]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[SmsChannel]:
    """Start the channel; on the way out finish (or cancel) slow replies, then close the port."""
    settings: Settings = app.state.settings
    services: Services = app.state.services
    if not settings.sms_validate_signatures:
        log.warning(
            "SMS_SIGNATURES_OFF",
            detail="LUNA_SMS_VALIDATE_SIGNATURES=false: anyone who can reach this server can "
            "post SMS webhooks as any member. Development only; never expose it.",
        )
    # Build the local grammar now: done lazily it blocks the loop past the first text's budget.
    getattr(getattr(app.state, "brain", None), "local", None)
    tasks = TaskSupervisor()
    outbound = OutboundSms(services, build_sms_sender(settings, services), settings)
    channel = SmsChannel(settings, services, outbound, tasks)
    app.state.tasks, app.state.outbound_sms, app.state.sms = tasks, outbound, channel
    log.info("sms_ready", sender="twilio" if outbound.twilio else "outbox")
    try:
        yield channel
    finally:
        await tasks.close()
        await outbound.aclose()
