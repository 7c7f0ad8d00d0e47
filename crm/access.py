"""Who may do what: input normalised once, and the rules of supervision apart from execution.

Rule 1 (one spelling): every name that decides access (a role, a department
code, a username, a verdict, a yes/no, an id typed by a person) is compared
only after `normal_text`: Unicode NFKC (full-width letters and digits become
ASCII), format characters (zero-width spaces, joiners, BOM) dropped, outer
whitespace stripped, inner runs collapsed, case folded. A lookalike from
another script (a Cyrillic `а` in `admin`) is *not* folded into the Latin
letter: it stays a different word, so it names nothing and grants nothing.

Rule 2 (supervision apart from execution, 001): a survey is verified,
disputed or corrected only by a supervisor (the role itself; admin alone is
not enough) who has no stake in the department the survey scores (see
`ScoredScope`: not in it, not below it, not in its management chain above
it unless that department is a supervision department, 监察部), nor the
technician it rates, nor the person who keyed it in
(`survey_supervisor_refusal`).

"Outside the department" means the same in every rule here (`ScoredScope`):
a department above the scored one (the region's, the centre's) manages it
and shares its reward or fine, so its people are as much inside as the
scored department's own staff (001: 监督和执行相分离, 不能和售后服务部门有利益上的
相关关系). Only a department marked as a supervision department is exempt
when it sits above the scored one; inside the scored department nobody is.

Rule 3: a resolved complaint is closed only by its follow-up verdict, and
that verdict is recorded only by the customer on the follow-up call, by the
callback staff member who holds the follow-up, or by callback staff or a
supervisor outside the complaint's department (`verdict_refusal`). Nobody
in the department that handled the complaint (its owner, their manager)
records the verdict that closes it.

Rule 4: a callback whose outcome feeds supervision (`SUPERVISION_CALLBACKS`:
the post-repair survey call, a complaint's follow-up, a survey verification)
is completed by hand only by callback staff or a supervisor (the role itself),
never by staff of the department it concerns (the job's, complaint's or
survey's department, or one below it) nor by the people it judges
(`supervision_callback_refusal`). Without a person it is the outbound flow.

Rule 5 (004: the finder's credit is paid once the sale is made, the service
head answers for it): a finder's credit is marked paid by a manager who is
neither the finder (the person credited) nor someone the finder manages (a
department below one the finder heads); the finder's own managers up the
chain may pay it, that is the seed's approval (`credit_payer_refusal`).

Every rule here returns the reason for a refusal (or None): the use case
stores that reason in an audit row before it raises `PermissionDenied`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from crm.enums import CallbackKind, Role, Verdict
from crm.errors import CrmError
from crm.identity import Identity

E = TypeVar("E")

__all__ = [
    "InvalidChoice", "normal_text", "parse_choice", "parse_decision", "parse_id", "parse_role", "parse_roles",
    "parse_verdict", "parse_yes_no", "same_name", "SurveyFacts", "survey_supervisor_refusal", "verdict_refusal",
    "publish_refusal", "SUPERVISION_CALLBACKS", "supervision_callback_refusal", "ScoredScope",
    "scored_scope", "credit_payer_refusal",
]

MAX_ID = 2**31 - 1
_YES = {"yes", "y", "true", "1", "on", "是", "对"}
_NO = {"no", "n", "false", "0", "off", "否", "不"}


class InvalidChoice(CrmError, ValueError):
    """Text that names none of the allowed values (after normalisation)."""

    http_status = 422


def normal_text(value: object) -> str:
    """The one comparable spelling of a name typed by a person (see Rule 1)."""
    text = unicodedata.normalize("NFKC", str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split()).casefold()


def same_name(a: object, b: object) -> bool:
    return normal_text(a) == normal_text(b)


def parse_choice(value: object, choices: Iterable[E], what: str) -> E:
    """The member of `choices` whose value (or name) is `value`, whatever its spelling."""
    options = list(choices)
    key = normal_text(getattr(value, "value", value)).replace(" ", "_").replace("-", "_")
    for option in options:
        names = {normal_text(getattr(option, "value", option)), normal_text(getattr(option, "name", option))}
        if key in {n.replace(" ", "_").replace("-", "_") for n in names}:
            return option
    allowed = ", ".join(str(getattr(o, "value", o)) for o in options)
    raise InvalidChoice(f"{what} {str(value)[:40]!r} is not one of: {allowed}")


def parse_role(value: object) -> Role:
    return parse_choice(value, Role, "role")


def parse_roles(values: Iterable[object] | None) -> frozenset[Role]:
    """Known roles among `values` (odd spellings folded); unknown names grant nothing."""
    found: set[Role] = set()
    for value in values or ():
        try:
            found.add(parse_role(value))
        except InvalidChoice:
            continue
    return frozenset(found)


def parse_yes_no(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    key = normal_text(value)
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise InvalidChoice(f"{what} {str(value)[:40]!r} is not yes or no")


_CONFIRM = {"verify", "verified", "confirm", "confirmed", "true", "yes", "1", "核实", "确认"}
_DISPUTE = {"dispute", "disputed", "false", "no", "0", "有异议", "异议"}


def parse_decision(value: object) -> bool:
    """A supervisor's decision on a survey: True verifies, False disputes."""
    if isinstance(value, bool):
        return value
    key = normal_text(value)
    if key in _CONFIRM:
        return True
    if key in _DISPUTE:
        return False
    raise InvalidChoice(f"decision {str(value)[:40]!r} is not verify or dispute")


# the follow-up verdict as staff type it: the English code or the words of the follow-up
# call and the pages (满意请按1，不满意请按2); compared without spaces, dashes or underscores
VERDICT_WORDS: dict[Verdict, tuple[str, ...]] = {
    Verdict.SATISFIED: ("satisfied", "满意", "非常满意", "比较满意", "基本满意"),
    Verdict.DISSATISFIED: ("dissatisfied", "unsatisfied", "not satisfied", "不满意", "非常不满意",
                           "不太满意"),
    Verdict.UNREACHED: ("unreached", "not reached", "no answer", "未接通", "无人接听", "联系不上",
                        "未联系上"),
}


def _compact(text: str) -> str:
    return "".join(ch for ch in normal_text(text) if ch not in " _-")


_VERDICT_KEYS = {_compact(word): verdict for verdict, words in VERDICT_WORDS.items() for word in words}


def parse_verdict(value: object) -> Verdict:
    """A complaint follow-up verdict: its code or a Chinese label, in any spelling (Rule 1);
    `InvalidChoice` (422) lists what is accepted."""
    if isinstance(value, Verdict):
        return value
    found = _VERDICT_KEYS.get(_compact(str(value)))
    if found is not None:
        return found
    accepted = "; ".join(f"{v.value} ({' / '.join(w for w in words if not w.isascii())})"
                         for v, words in VERDICT_WORDS.items())
    raise InvalidChoice(f"verdict {str(value)[:40]!r} is not one of: {accepted}")


def parse_id(value: object, what: str) -> int:
    """A database id typed by a person: digits in any width, 1..2**31-1."""
    if isinstance(value, bool):
        raise InvalidChoice(f"{what} must be a whole number")
    if isinstance(value, int):
        number = value
    else:
        key = normal_text(value)
        if not key.isascii() or not key.isdigit():
            raise InvalidChoice(f"{what} {str(value)[:40]!r} is not a whole number")
        number = int(key)
    if not 1 <= number <= MAX_ID:
        raise InvalidChoice(f"{what} {number} is out of range")
    return number


# -- who does what (the use cases check these; the routes declare the same tuples) -------

CUSTOMER_WRITERS = (Role.AGENT, Role.CALLBACK_STAFF, Role.MANAGER)
JOB_WRITERS = (Role.AGENT, Role.TECHNICIAN, Role.MANAGER)
CONTACT_WRITERS = (Role.AGENT, Role.TECHNICIAN, Role.CALLBACK_STAFF, Role.MANAGER)
LEAD_WRITERS = CONTACT_WRITERS
CALLBACK_WORKERS = (Role.CALLBACK_STAFF, Role.SUPERVISOR, Role.MANAGER)
COMPLAINT_OPENERS = (Role.AGENT, Role.MANAGER, Role.CALLBACK_STAFF)
CAMPAIGN_UPLOADERS = (Role.MANAGER,)
VERDICT_ROLES = (Role.CALLBACK_STAFF, Role.SUPERVISOR)  # and outside the department (below)


# -- supervision apart from execution ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoredScope:
    """The departments with a stake in a score (`department_id in scope`).

    `inside`: the scored department(s) and every department below them.
    `above`: their management chain up to the top, less any supervision
    department (监察部) in it (see `scored_scope`)."""

    inside: frozenset[int] = frozenset()
    above: frozenset[int] = frozenset()

    def __contains__(self, department_id: object) -> bool:
        return department_id in self.inside or department_id in self.above

    def stake(self, department_id: int | None) -> str | None:
        """'inside', 'above' or None (no stake; None also for no department)."""
        if department_id is None:
            return None
        if department_id in self.inside:
            return "inside"
        return "above" if department_id in self.above else None


def scored_scope(scored: Iterable[int], parents: Mapping[int, int | None],
                 supervision: Collection[int] = ()) -> ScoredScope:
    """The stake of every department in the score of `scored` (department ids).

    `parents` maps each department to its parent (None at the top; cycles are
    cut); `supervision` lists the supervision departments, exempt only when they
    sit above a scored department."""
    roots = set(scored)
    inside = set(roots)
    grew = True
    while grew:
        grew = False
        for dept, parent in parents.items():
            if parent in inside and dept not in inside:
                inside.add(dept)
                grew = True
    above: set[int] = set()
    for dept in roots:
        seen, up = {dept}, parents.get(dept)
        while up is not None and up not in seen:
            seen.add(up)
            if up not in inside and up not in supervision:
                above.add(up)
            up = parents.get(up)
    return ScoredScope(frozenset(inside), frozenset(above))


def _stake_refusal(actor: Identity, scope: ScoredScope, what: str) -> str | None:
    """Why `actor`'s department may not do `what` for the scored department (None: no stake)."""
    stake = scope.stake(actor.department_id)
    if stake == "inside":
        return f"{what} scores your own department; someone from outside it must do it"
    if stake == "above":
        return (f"{what} scores a department your department manages (it shares the department's "
                "reward or fine); someone from outside its management chain, e.g. the supervision "
                "department (监察部), must do it")
    return None


@dataclass(frozen=True, slots=True)
class SurveyFacts:
    """What the supervision rule needs to know about a survey."""

    survey_id: int
    department_id: int | None  # the department the survey scores
    staff_id: int | None  # the technician it rates
    entered_by: int | None  # who keyed it in


def survey_supervisor_refusal(
    actor: Identity | None, survey: SurveyFacts, scope: ScoredScope
) -> str | None:
    """Why `actor` may not verify, dispute or correct `survey` (None: they may).

    `scope` is the stake of each department in the survey's department's score."""
    if actor is None:
        return "verifying a survey needs a supervisor (监察部) logged in"
    if Role.SUPERVISOR not in actor.roles:
        return "only a supervisor (监察部) verifies, disputes or corrects a survey"
    refusal = _stake_refusal(actor, scope, f"survey {survey.survey_id}")
    if refusal is not None:
        return refusal
    if actor.staff_id in (survey.staff_id, survey.entered_by):
        return f"survey {survey.survey_id} rates or was keyed in by you; another supervisor must verify it"
    return None


def verdict_refusal(
    actor: Identity | None, *, complaint_departments: ScoredScope,
    responsible_ids: Collection[int], followup_holder_id: int | None = None,
) -> str | None:
    """Why `actor` may not record the follow-up verdict of a complaint (None: they may).

    `actor` None is the customer on the follow-up call (the IVR records their
    keypress). `complaint_departments` is the stake of each department in the
    complaint's department (`ScoredScope`); `responsible_ids` its owner and the
    managers up its department chain."""
    if actor is None:
        return None
    if actor.staff_id in responsible_ids:
        return ("the complaint's owner and their managers cannot record the follow-up verdict "
                "on their own work")
    stake = complaint_departments.stake(actor.department_id)
    if stake is not None:
        return ("the follow-up verdict is recorded outside the department that handled the "
                "complaint" + (" and its management chain" if stake == "above" else "")
                + " (callback staff or a supervisor)")
    if Role.SUPERVISOR in actor.roles:
        return None
    if Role.CALLBACK_STAFF not in actor.roles:
        return "only callback staff or a supervisor records a follow-up verdict"
    if followup_holder_id is not None and followup_holder_id != actor.staff_id:
        return "this follow-up call belongs to another callback staff member"
    return None


def publish_refusal(actor: Identity | None, scored_departments: ScoredScope) -> str | None:
    """Why `actor` may not publish a month's supervision figures (None: they may).

    Like verifying a survey (Rule 2): the supervisor role itself, with no stake
    in any department the figures score (`scored_departments`)."""
    if actor is None:
        return "publishing the supervision figures needs a supervisor (监察部) logged in"
    if Role.SUPERVISOR not in actor.roles:
        return "only a supervisor (监察部) publishes the supervision figures"
    stake = scored_departments.stake(actor.department_id)
    if stake == "inside":
        return ("these figures score your own department; a supervisor from outside the scored "
                "departments publishes them")
    if stake == "above":
        return ("these figures score a department your department manages; a supervisor from "
                "outside its management chain (监察部) publishes them")
    return None


SUPERVISION_CALLBACKS = frozenset({
    CallbackKind.POST_REPAIR, CallbackKind.COMPLAINT_FOLLOWUP, CallbackKind.SURVEY_VERIFICATION})


def supervision_callback_refusal(
    actor: Identity | None, *, concerned_departments: ScoredScope,
    responsible_ids: Collection[int] = (),
) -> str | None:
    """Why `actor` may not complete a callback of `SUPERVISION_CALLBACKS` (None: they may).

    `actor` None is the outbound flow. `concerned_departments` is the stake of each
    department in the department the callback's outcome judges (`ScoredScope`);
    `responsible_ids` the people it judges (the technician, the complaint's owner
    and managers)."""
    if actor is None:
        return None
    if actor.staff_id in responsible_ids:
        return "this callback judges your own work; callback staff or a supervisor completes it"
    stake = concerned_departments.stake(actor.department_id)
    if stake == "inside":
        return ("this callback's outcome scores your own department; callback staff or a "
                "supervisor from outside it completes it")
    if stake == "above":
        return ("this callback's outcome scores a department your department manages; callback "
                "staff or a supervisor from outside its management chain completes it")
    if Role.SUPERVISOR in actor.roles or Role.CALLBACK_STAFF in actor.roles:
        return None
    return "only callback staff or a supervisor completes a survey, follow-up or verification callback"


def credit_payer_refusal(
    actor: Identity, *, lead_id: int, finder_id: int | None, payer_managers: Collection[int],
) -> str | None:
    """Why `actor` may not mark lead `lead_id`'s finder credit paid (None: they may).

    `payer_managers` are the managers up `actor`'s own department chain: when the
    finder is one of them, `actor` works under the person credited."""
    if Role.MANAGER not in actor.roles:
        return "only the service head (a manager) marks a finder's credit paid"
    if finder_id is not None and actor.staff_id == finder_id:
        return (f"lead {lead_id}'s credit is owed to you; another manager (yours, up the chain) "
                "approves and pays it")
    if finder_id is not None and finder_id in payer_managers:
        return (f"lead {lead_id}'s credit is owed to a manager you work under; a manager above "
                "them or outside their departments pays it")
    return None
