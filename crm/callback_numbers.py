"""Which of a customer's numbers a supervision callback may dial, and whether a call counts.

The post-repair survey call (000), the complaint follow-up call (二次回访) and
the survey verification call (001) are supervision's ears: what the person who
answers says decides a score (a survey verified, a complaint closed or
reopened, a problem found after a repair). The scored department must not
choose who answers (001: 监督和执行相分离).

Rule 1 (trustworthy number): a number qualifies for the call only if nobody
with a stake in the department the call judges put it on the record, by the
same stamps as first-hand surveys (`crm.surveys.first_hand_check`): not a
number added by that department, a department below it or one managing it
(`crm.surveys.planted_numbers`), nor by a person the call judges (the
technician, the keyer of the survey, the complaint's owner); and not a number
only a caller's own call put on an unnamed caller record
(`crm.surveys.unvouched_numbers`). A merge keeps a number's first stamp, so a
planted number stays planted wherever it moves.

Rule 2 (dial order): the primary number first, then the others in the order
they were added; the first that qualifies is dialled. None qualifying: the
callback is not dialled at all; it is `held` for the supervision staff with
the reason (`no_trustworthy_number`), and nothing is counted.

Rule 3 (the answer counts only from a number that still qualifies): when the
outcome of an automated call is recorded, the number dialled is checked again
(`dialled_number_refusal`); a number edited meanwhile (unlinked, moved,
stamped by the scored department) makes the outcome count for nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from crm.access import ScoredScope
from crm.surveys import masked, planted_numbers, unvouched_numbers

#: the reason code a held callback carries (its `data["held"]`)
NO_TRUSTWORTHY_NUMBER = "no_trustworthy_number"


@dataclass(frozen=True, slots=True)
class PhoneStamp:
    """One number of the customer's record and who put it there."""

    e164: str
    primary: bool
    added_by: int | None  # staff id; None: an import, the caller's own call, the system
    added_by_department_id: int | None  # their department then


@dataclass(frozen=True, slots=True)
class JudgedNumbers:
    """A customer's numbers as seen by one supervision callback.

    `phones` in dial order (primary first, then by when they were added);
    `scope` the stake of each department in the department the call judges;
    `judged_people` the staff the call judges; `record_verified` False for an
    unverified caller record nobody named."""

    customer_id: int
    timezone: str
    do_not_call: bool
    department_id: int | None
    phones: tuple[PhoneStamp, ...] = ()
    scope: ScoredScope = field(default_factory=ScoredScope)
    judged_people: frozenset[int] = frozenset()
    record_verified: bool = True


def untrusted_numbers(numbers: JudgedNumbers) -> dict[str, str]:
    """Each number of the record that may not be dialled for the call, with why (Rule 1)."""
    phones = numbers.phones
    planted = planted_numbers(((p.e164, p.added_by_department_id) for p in phones), numbers.scope)
    unvouched = unvouched_numbers(((p.e164, p.added_by) for p in phones), numbers.record_verified)
    why: dict[str, str] = {}
    for p in phones:
        if p.e164 in planted:
            why[p.e164] = (f"{masked(p.e164)} was added to the customer's record by the department "
                           "this call judges (or one below or managing it)")
        elif p.added_by is not None and p.added_by in numbers.judged_people:
            why[p.e164] = (f"{masked(p.e164)} was added to the customer's record by a person this "
                           "call judges")
        elif p.e164 in unvouched:
            why[p.e164] = (f"{masked(p.e164)} is on an unverified caller record only because a call "
                           "came from it; nobody said it is the customer's")
    return why


def trustworthy_number(numbers: JudgedNumbers) -> tuple[str | None, str | None]:
    """(the number to dial, None) or (None, why none may be dialled) (Rules 1 and 2)."""
    if not numbers.phones:
        return None, "the customer has no phone number"
    untrusted = untrusted_numbers(numbers)
    for p in numbers.phones:
        if p.e164 not in untrusted:
            return p.e164, None
    return None, ("no trustworthy number: " + "; ".join(untrusted[p.e164] for p in numbers.phones)
                  + ". Add the customer's own number from outside the judged department "
                  "(an agent of the call centre, or an import), then call again")


def dialled_number_refusal(numbers: JudgedNumbers | None, dialled: str) -> str | None:
    """Why an answer on a call to `dialled` does not count now (None: it counts; Rule 3)."""
    if numbers is None:
        return "the callback's customer no longer exists"
    if dialled not in {p.e164 for p in numbers.phones}:
        return (f"the number called, {masked(dialled)}, is no longer on the customer's record; "
                "the answer is not the customer's word")
    why = untrusted_numbers(numbers).get(dialled)
    return None if why is None else f"the number called is not trustworthy: {why}"


def judged(people: Collection[int | None]) -> frozenset[int]:
    return frozenset(p for p in people if p is not None)
