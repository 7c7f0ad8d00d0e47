"""Phone numbers as the CRM stores and shows them.

Guarantees:
- `normalize_phone` returns an E.164 string (``+8613800138000``) for a number
  that is valid in its country, whatever national or international form it was
  typed in (``138 0013 8000``, ``010-12345678``, ``0086 138...``, ``+1 212...``);
  for anything else it raises `InvalidPhoneNumber` and nothing else. Two ways of
  writing one number give the same string, so caller-ID matching is equality.
- `normalize_regional_phone` also refuses a valid number of another country
  (what the centre can call back is its own region's numbers).
- An extension (``... ext 5``) is not part of E.164 and is dropped; keep it in
  a separate field if it matters.
- `mask_phone` never raises and never returns more than the country code, three
  leading and four trailing national digits: safe for INFO logs.
"""

from __future__ import annotations

import phonenumbers

from crm.errors import InvalidPhoneNumber

_MAX_RAW_LENGTH = 64


def normalize_phone(raw: str, default_region: str = "CN") -> str:
    """Return `raw` as an E.164 string; `default_region` applies to national forms.

    `default_region` is an ISO 3166 alpha-2 code (``"CN"``, ``"US"``); numbers
    written with ``+`` or an international prefix (``00`` in China) ignore it.
    """
    if not isinstance(raw, str):
        raise InvalidPhoneNumber(f"a phone number must be text, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("the phone number is empty: ask the caller for it")
    if len(text) > _MAX_RAW_LENGTH:
        raise InvalidPhoneNumber(
            f"the phone number is {len(text)} characters long: "
            "enter only the number, with its area or country code"
        )
    region = (default_region or "").upper()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidPhoneNumber(
                f"cannot tell the country of this number (default region {region!r}): "
                "write it as +<country code><number> or pass a region such as 'CN' or 'US'"
            ) from exc
        raise InvalidPhoneNumber(
            "this is not a phone number: enter digits, e.g. 138 0013 8000, "
            "010-12345678 or +86 138 0013 8000"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        raise InvalidPhoneNumber(
            f"no such number in {where}: check the digits and give landlines with "
            "their area code (e.g. 010-12345678), foreign numbers as +<country code>..."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_regional_phone(raw: str, region: str = "CN") -> str:
    """`normalize_phone`, and the number must belong to `region`'s numbering plan (the
    centre calls back there only): a number the caller keyed in, a caller ID to call
    back on. Raises `InvalidPhoneNumber` otherwise."""
    e164 = normalize_phone(raw, region)
    if not in_region(e164, region):
        raise InvalidPhoneNumber(
            f"this number is not in {region.upper()}: the centre calls back numbers of its "
            "own region only"
        )
    return e164


def in_region(e164: str, region: str) -> bool:
    """True when the E.164 number `e164` belongs to `region`'s country calling code."""
    code = phonenumbers.country_code_for_region((region or "").upper())
    return bool(code) and e164.startswith(f"+{code}")


def mask_phone(e164: str) -> str:
    """Return `e164` with the middle digits hidden: ``+86138****8000``.

    Meant for logs; text that is not an E.164 number is masked all the same.
    """
    text = e164.strip() if isinstance(e164, str) else ""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in text if ch.isdigit())
        return "****" + digits[-2:]
    national = str(number.national_number)
    prefix = f"+{number.country_code}"
    if len(national) < 8:
        return f"{prefix}****{national[-2:]}"
    return f"{prefix}{national[:3]}****{national[-4:]}"
