import pytest

from luna.domain.phones import mask_phone, normalize_phone


@pytest.mark.parametrize("raw", ["(555) 123-4567", "555.123.4567", "+1 555 123 4567", "5551234567"])
def test_normalize_phone_gives_e164_for_us_formats(raw: str) -> None:
    assert normalize_phone(raw) == "+15551234567"


def test_normalize_phone_reads_national_numbers_in_the_default_region() -> None:
    assert normalize_phone("030 123456", default_region="DE") == "+4930123456"


@pytest.mark.parametrize("raw", ["", "hello", "12345", "+999 123", "555-12"])
def test_normalize_phone_rejects_non_numbers(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid phone number"):
        normalize_phone(raw)


def test_mask_phone_keeps_plus_first_digit_and_last_four() -> None:
    assert mask_phone("+15551234567") == "+1••••••4567"


def test_mask_phone_shows_a_dash_for_no_number() -> None:
    assert mask_phone(None) == "-"
    assert mask_phone("") == "-"


def test_mask_phone_never_reveals_a_short_code_whole() -> None:
    assert mask_phone("12345") == "••••5"
