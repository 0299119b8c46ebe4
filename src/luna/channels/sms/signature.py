"""Only Twilio may post SMS webhooks: X-Twilio-Signature, checked against the public URL."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from starlette.datastructures import FormData, Headers
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from luna.config import Settings
from luna.errors import Forbidden

log = structlog.get_logger(__name__)


def public_url(settings: Settings, path: str, query: str = "") -> str:
    """The URL Twilio called: behind a proxy the request's own URL is not it.

    LUNA_PUBLIC_URL is where Twilio reaches Luna, including any path prefix the proxy strips.
    """
    url = settings.public_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send (for `luna sms`, tests and the bench)."""
    signature: str = RequestValidator(auth_token).compute_signature(url, params)
    return signature


def signature_holds(
    settings: Settings, path: str, query: str, form: Mapping[str, Any] | FormData,
    headers: Headers,
) -> bool:
    """Twilio signed this form for this URL (or checking is off, in development only)."""
    if not settings.sms_validate_signatures:
        return True
    token = settings.webhook_auth_token()
    signature = headers.get(SIGNATURE_HEADER)
    url = public_url(settings, path, query)
    algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
    if token is None:
        log.error("twilio_auth_token_missing", path=path)
    elif signature:
        validator = RequestValidator(token)
        if (_signed_as_configured(validator, url, form, signature, algorithm)
                or validator.validate(url, form, signature, algorithm)):
            return True
    log.warning("twilio_signature_rejected", path=path, has_signature=bool(signature))
    return False


def _signed_as_configured(
    validator: RequestValidator, url: str, form: Mapping[str, Any] | FormData, signature: str,
    algorithm: str,
) -> bool:
    """The signature over the URL exactly as configured: what Twilio sends for it. The
    library's `validate` always signs the URL twice (with and without a port) and accepts
    either; that stays the fallback."""
    if "bodySHA256" in url:
        return False  # a JSON body's hash is the library's to check
    try:
        expected = validator.compute_signature(url, form, algorithm)
    except ValueError:  # an algorithm it does not know: the library decides (and logs)
        return False
    return hmac.compare_digest(expected.encode(), signature.encode())


NOT_SIGNED = "the request is not signed by Twilio"


async def signed_form(request: Request) -> FormData:
    """The webhook's form, once its signature holds; else Forbidden before anything happens."""
    form = await request.form()
    if signature_holds(request.app.state.settings, request.url.path, request.url.query, form,
                       request.headers):
        return form
    raise Forbidden(NOT_SIGNED)


SignedForm = Annotated[FormData, Depends(signed_form)]
