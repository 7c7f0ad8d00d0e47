"""Phone numbers: E.164 normalisation and masking for logs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.errors import InvalidPhoneNumber
from crm.phones import mask_phone, normalize_phone


def test_mobile_written_in_groups_becomes_e164() -> None:
    assert normalize_phone("138 0013 8000") == "+8613800138000"


def test_beijing_landline_keeps_its_area_code() -> None:
    assert normalize_phone("010-12345678") == "+861012345678"


@pytest.mark.parametrize("raw", ["+86 138 0013 8000", "0086 13800138000", "+86-138-0013-8000"])
def test_international_forms_of_a_chinese_mobile_are_the_same_number(raw: str) -> None:
    assert normalize_phone(raw) == "+8613800138000"


def test_us_number_in_national_form_needs_region_us() -> None:
    assert normalize_phone("(212) 555-1234", default_region="US") == "+12125551234"


def test_us_number_with_plus_one_is_read_whatever_the_default_region() -> None:
    assert normalize_phone("+1 212 555 1234") == "+12125551234"


def test_extension_is_dropped() -> None:
    assert normalize_phone("138-0013-8000 ext 5") == "+8613800138000"


def test_too_short_number_is_refused_with_advice() -> None:
    with pytest.raises(InvalidPhoneNumber, match="area code"):
        normalize_phone("12345")


def test_letters_are_not_a_phone_number() -> None:
    with pytest.raises(InvalidPhoneNumber, match="not a phone number"):
        normalize_phone("call me maybe")


def test_empty_number_is_refused() -> None:
    with pytest.raises(InvalidPhoneNumber, match="empty"):
        normalize_phone("   ")


def test_national_number_with_unknown_region_asks_for_country_code() -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"\+<country code>"):
        normalize_phone("13800138000", default_region="XX")


def test_invalid_phone_number_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_phone("abc")


def test_mask_hides_the_middle_of_a_mobile() -> None:
    assert mask_phone("+8613800138000") == "+86138****8000"


def test_mask_hides_the_middle_of_a_us_number() -> None:
    assert mask_phone("+12125551234") == "+1212****1234"


def test_mask_of_text_that_is_no_number_shows_at_most_two_digits() -> None:
    assert mask_phone("not a 1234567 number") == "****67"


@given(st.text(max_size=40))
def test_normalize_phone_raises_only_invalid_phone_number(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except InvalidPhoneNumber:
        return
    assert result.startswith("+") and result[1:].isdigit()


@given(st.from_regex(r"\A[+0-9 ()\-]{0,25}\Z"), st.sampled_from(["CN", "US", "GB", "XX", ""]))
def test_normalized_numbers_are_stable_and_never_raise_other_errors(raw: str, region: str) -> None:
    try:
        once = normalize_phone(raw, region)
    except InvalidPhoneNumber:
        return
    assert normalize_phone(once, region) == once


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_mask_never_shows_a_whole_mobile_number(national: str) -> None:
    try:
        e164 = normalize_phone(national)
    except InvalidPhoneNumber:
        return
    masked = mask_phone(e164)
    assert national not in masked
    assert masked.endswith(national[-4:])
