"""The customer card as JSON: one shape for `GET /api/customers/{id}/card` and the screen-pop.

Below both `callcenter.web` and `callcenter.screenpop` (which must not import
the web package); the REST API's models in `callcenter.web.api.schemas` build
on `Out`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crm.customers import CustomerCard
from crm.enums import LeadState, ValueGrade


class Out(BaseModel):
    """A response model built from the domain dataclasses (`from_attributes`)."""

    model_config = ConfigDict(from_attributes=True)


class PhoneOut(Out):
    e164: str
    label: str | None
    is_primary: bool


class CustomerOut(Out):
    customer_id: int
    name: str
    phones: list[PhoneOut]
    reference: str | None
    company: str | None
    title: str | None
    address: str | None
    language: str
    timezone: str
    value_grade: ValueGrade
    vip_high_spend: bool
    vip_official: bool
    vip_public_figure: bool
    vip_journalist: bool
    do_not_call: bool
    verified: bool
    preferences: str | None
    equipment: str | None
    department_id: int | None


# -- the rest of the card -----------------------------------------------------------------------------


class JobOut(Out):
    job_id: int
    reference: str
    description: str | None
    technician: str | None
    completed_at: datetime | None


class ComplaintOut(Out):
    complaint_id: int
    ticket: str
    category: str
    state: str
    major: bool
    opened_at: datetime
    owner: str | None


class SurveyOut(Out):
    survey_id: int
    surveyed_at: datetime
    timeliness: str | None
    quality: str | None
    attitude: str | None
    verification: str


class ContactOut(Out):
    contact_id: int
    kind: str
    at: datetime
    staff: str | None
    disposition: str | None
    summary: str | None
    notes: str | None
    call_id: int | None
    ivr_path: str | None
    call_outcome: str | None


class CallEntryOut(Out):
    call_id: int
    carrier: str
    direction: str
    started_at: datetime
    disposition: str
    ivr_path: str | None
    agent: str | None
    duration_s: float | None


class LeadSummaryOut(Out):
    lead_id: int
    need: str
    equipment: str | None
    demand_level: int
    state: LeadState
    found_by: str | None
    assigned_to: str | None
    follow_up_at: datetime | None


class CardOut(Out):
    customer: CustomerOut
    unknown_caller: bool
    vip: list[str]
    open_complaints: list[ComplaintOut]
    jobs: list[JobOut]
    complaints: list[ComplaintOut]
    surveys: list[SurveyOut]
    contacts: list[ContactOut]
    calls: list[CallEntryOut]
    leads: list[LeadSummaryOut]


def card_out(card: CustomerCard) -> CardOut:
    return CardOut.model_validate({
        "customer": card.customer, "unknown_caller": card.unknown_caller,
        "vip": [str(v) for v in card.vip], "open_complaints": card.open_complaints,
        "jobs": card.jobs, "complaints": card.complaints, "surveys": card.surveys,
        "contacts": card.contacts, "calls": card.calls, "leads": card.leads,
    })
