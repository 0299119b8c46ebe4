"""Phone numbers: one canonical E.164 form for matching, and a masked form for display and logs."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

_MASK = "•"
_KEEP_LAST = 4


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """``raw`` in E.164 (``+15551234567``); national numbers are read in ``default_region``.

    *Possible* numbers (right length for the country) are accepted rather than only assigned
    ones, so fictional 555 numbers used in demos and tests work; typos of the wrong length fail.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("not a valid phone number")
    return _e164(raw, default_region)


@lru_cache(maxsize=4096)
def _e164(raw: str, default_region: str) -> str:
    # Every text looks its sender up by number, and a household's few numbers repeat; parsing
    # one costs more than the database lookup. A number that fails raises, and is not kept.
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a valid phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(e164: str | None) -> str:
    """``+15551234567`` -> ``+1••••••4567``: enough to recognise a number, not to dial it.

    Keeps the leading "+", the first digit and the last four; None (or no digits) gives "-".
    """
    digits = "".join(ch for ch in e164 or "" if ch.isdigit())
    if not digits:
        return "-"
    prefix = "+" if (e164 or "").lstrip().startswith("+") else ""
    if len(digits) <= _KEEP_LAST + 1:
        # The usual rule would show a short code whole; show only its last digit.
        return prefix + _MASK * (len(digits) - 1) + digits[-1]
    return prefix + digits[0] + _MASK * (len(digits) - 1 - _KEEP_LAST) + digits[-_KEEP_LAST:]
