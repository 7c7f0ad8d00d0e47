"""A service job reference keyed on a phone keypad.

The IVR asks the caller to key the reference of the job they rate; references
such as ``J-20261105`` carry letters a keypad cannot send. Rule: keyed digits
(``20261105``, in any width) name a job whose reference is those digits, or those
digits behind one of the letter prefixes in use (`KEYPAD_PREFIXES`: ``J-20261105``,
``J20261105``); text with letters names only the job of exactly that reference.
When the keyed digits name more than one job, they name none (`single_job`): the
caller is asked again and then put through to an agent, and no survey is ever
stored against a job the caller may not have meant.

Used by every carrier's IVR through `crm.services.surveys.find_job_for_caller`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

__all__ = ["KEYPAD_PREFIXES", "keyed_digits", "reference_spellings", "single_job"]

KEYPAD_PREFIXES: tuple[str, ...] = ("J-", "J")
"""Letter prefixes of the service job references in use (the demo data: ``J-20261105``)."""


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


J = TypeVar("J", bound=_HasId)


def keyed_digits(text: str) -> str | None:
    """The digits of `text` when it is digits only (full-width folded, spaces and a final
    ``#`` ignored), else None."""
    key = "".join(unicodedata.normalize("NFKC", text).split()).removesuffix("#")
    return key if key.isascii() and key.isdigit() else None


def reference_spellings(keyed: str, prefixes: Iterable[str] = KEYPAD_PREFIXES) -> list[str]:
    """The references `keyed` may name, as keyed first; a prefixed spelling per prefix when
    it is digits only."""
    spellings = [keyed.strip()]
    digits = keyed_digits(keyed)
    if digits is not None:
        spellings += [digits, *(prefix + digits for prefix in prefixes)]
    return list(dict.fromkeys(s for s in spellings if s))


def single_job(found: Sequence[J | None]) -> J | None:
    """The one job the spellings found; None when none did or several different ones did."""
    jobs = {job.id: job for job in found if job is not None}
    return next(iter(jobs.values())) if len(jobs) == 1 else None
