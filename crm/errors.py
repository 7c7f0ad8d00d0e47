"""Domain errors of the CRM rules, each saying what the caller should do next.

Guarantee: every exception raised on purpose by a `crm` rule module is a
`CrmError`; the ones that reject a bad value are also `ValueError`s, so an
entrypoint can map "bad input" without knowing every rule. Messages never hold
a full phone number (they end up in logs).

`aware_utc` lives here because it is the guard behind `NaiveDatetime`: every
rule takes time as an argument and refuses naive datetimes with it.
"""

from __future__ import annotations

from datetime import UTC, datetime


class CrmError(Exception):
    """Base of every deliberate error raised by the CRM rules."""


class InvalidPhoneNumber(CrmError, ValueError):
    """Text that is not a dialable phone number for the given region."""


class UnknownCustomer(CrmError, LookupError):
    """No customer record matches (raised by services, defined with the rules)."""

    http_status = 404


class InvalidTransition(CrmError):
    """An action that the current state does not allow (a caller bug or a race)."""

    http_status = 409


class NaiveDatetime(CrmError, ValueError):
    """A datetime without a time zone reached a rule."""


class InvalidCallWindow(CrmError, ValueError):
    """A call window that is empty or overlaps the quiet hours."""


class WindowUnavailable(CrmError, ValueError):
    """A requested callback window that can no longer be honoured."""


class InvalidDemandLevel(CrmError, ValueError):
    """A lead's demand level outside 1..3."""


class EscalationChainEmpty(CrmError, ValueError):
    """Escalation was asked for a complaint whose owner has no department chain."""


class CreditNotDue(CrmError):
    """A finder credit asked for a lead that is not won or has no finder."""


# -- complaints: raised by crm/services/complaints.py ----------------------------------------


class UnknownComplaint(CrmError, LookupError):
    """No complaint has this id or ticket number."""

    http_status = 404


class ConcurrentChange(InvalidTransition):
    """Someone else changed the complaint between our read and our write."""


class AlreadyEscalated(CrmError):
    """This escalation level was recorded already (by another job loop): nothing to do."""


class InvalidComplaint(CrmError, ValueError):
    """A complaint command with a missing or wrong field (unknown job, blank text...)."""

    http_status = 422


def aware_utc(when: datetime, what: str = "time") -> datetime:
    """Return `when` converted to UTC; refuse a naive datetime.

    `what` names the argument in the error message.
    """
    if not isinstance(when, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise NaiveDatetime(
            f"{what} {when.isoformat()} has no time zone: pass an aware datetime, "
            "e.g. datetime.now(UTC), or attach the zone with ZoneInfo at the entrypoint"
        )
    return when.astimezone(UTC)
