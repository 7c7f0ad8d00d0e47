"""The API's request and response models (pydantic), which also feed `/api/openapi.json`.

Guarantee: every input field is bounded (ids to 1..2**31-1, text to its column
length, times aware and in 1970..2100, time zones IANA names; the rules live
in `callcenter.web.edge`), so a value that passes validation always fits the
database; in a PATCH, null clears a nullable field and is refused (422) for
one that cannot be empty; output models are built from the domain
dataclasses with `from_attributes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from callcenter.cards import Out
from callcenter.web.edge import DbId, SaneInstant, TimeZoneName
from crm.customers import EDITABLE_FIELDS, REQUIRED_FIELDS, WrapUpDisposition
from crm.enums import ComplaintCategory, ContactKind, LeadState, ValueGrade
from crm.leads import LeadAction

PhoneText = Annotated[str, Field(min_length=1, max_length=64, examples=["138 0013 8000"])]
Name = Annotated[str, Field(max_length=200)]
Short = Annotated[str, Field(max_length=120)]
Text = Annotated[str, Field(max_length=5000)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Patch(In):
    """A partial update: a field left out is kept; null clears it, unless it is in
    `NOT_NULL` (a value the record cannot do without), where null is a 422."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _null_only_where_allowed(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name in cls.NOT_NULL:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


def partial(model: type[BaseModel], names: Sequence[str]) -> type[Patch]:
    """A `Patch` of `model`'s fields `names`: each with its annotation (bounds, examples) as
    `model` declares it, made optional with no default, so a field is defined once for a
    create and an update."""
    hints = get_type_hints(model, include_extras=True)
    fields: dict[str, Any] = {name: (hints[name] | None, None) for name in names}
    return create_model(f"{model.__name__}Partial", __base__=Patch, __module__=__name__, **fields)


MAX_CALL_OFFSET = 10_000


class Page(In):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


# -- customers ----------------------------------------------------------------------------


class CustomerFields(In):
    reference: Annotated[str, Field(max_length=80)] | None = None
    company: Name | None = None
    title: Short | None = None
    address: Text | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"
    timezone: TimeZoneName = "Asia/Shanghai"
    value_grade: ValueGrade = ValueGrade.NORMAL
    vip_high_spend: bool = False
    vip_official: bool = False
    vip_public_figure: bool = False
    vip_journalist: bool = False
    do_not_call: bool = False
    preferences: Text | None = None
    equipment: Text | None = None
    department_id: DbId | None = None


class CustomerCreate(CustomerFields):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    phones: Annotated[list[PhoneText], Field(max_length=10)] = []


# what a PATCH of a customer may change: the editable fields of `CustomerCreate`, each optional,
# with the same bounds (no docstring: it would become the schema's description)
class CustomerPatch(partial(CustomerCreate, EDITABLE_FIELDS)):  # type: ignore[misc]
    NOT_NULL = frozenset(REQUIRED_FIELDS)


class CustomerSearch(Page):
    q: Annotated[str, Field(max_length=100)] | None = None


class PhoneLink(In):
    phone: PhoneText
    label: Annotated[str, Field(max_length=40)] | None = None
    primary: bool = False


class MergeIn(In):
    source_customer_id: DbId = Field(description="the unverified caller record to fold in")


# -- contacts and wrap-up -----------------------------------------------------------------


class ContactCreate(In):
    customer_id: DbId
    kind: ContactKind
    at: SaneInstant | None = Field(None, description="aware time; default now")
    job_id: DbId | None = None
    subject: Annotated[str, Field(max_length=80)] | None = None
    disposition: Annotated[str, Field(max_length=40)] | None = None
    summary: Text | None = None
    notes: Text | None = None


class CreatedOut(Out):
    id: int


class LatentNeedIn(In):
    need: Annotated[str, Field(min_length=1, max_length=2000)]
    demand_level: int = Field(ge=1, le=3, description="1 low, 2 medium, 3 ready to buy")
    follow_up_staff_id: DbId = Field(description="the named person who follows up")
    equipment: Annotated[str, Field(max_length=2000)] | None = None


class ComplaintIn(In):
    category: ComplaintCategory
    description: Annotated[str, Field(min_length=1, max_length=5000)]
    emotional: bool = False
    compensation_claimed: Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=2)] | None = None


class WrapUpIn(In):
    customer_id: DbId
    disposition: WrapUpDisposition
    notes: Text | None = None
    subject: Annotated[str, Field(max_length=80)] | None = None
    call_id: DbId | None = None
    carrier: Literal["asterisk", "twilio"] | None = None
    carrier_call_id: Annotated[str, Field(max_length=80)] | None = None
    latent_need: LatentNeedIn | None = None
    complaint: ComplaintIn | None = None


class WrapUpOut(Out):
    contact_id: int
    lead_id: int | None
    complaint_id: int | None
    complaint_ticket: str | None


# -- calls --------------------------------------------------------------------------------


class CallOut(BaseModel):
    id: int
    carrier: str
    carrier_call_id: str
    direction: str
    from_number: str | None
    to_number: str | None
    customer_id: int | None
    agent_id: int | None
    queue: str | None
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    disposition: str
    ivr_path: str | None


class CallEventOut(BaseModel):
    at: datetime
    kind: str
    node: str | None
    detail: dict[str, object]


class CallDetailOut(CallOut):
    events: list[CallEventOut]


class CallSearch(Page):
    customer_id: DbId | None = None
    # the customer card is read up to offset + limit rows of each kind, then sliced: bounded
    # (the unidentified-caller record gathers every withheld number's calls)
    offset: int = Field(0, ge=0, le=MAX_CALL_OFFSET)


class OfferIn(In):
    carrier: Literal["asterisk", "twilio"]
    carrier_call_id: Annotated[str, Field(min_length=1, max_length=80)]
    caller_number: Annotated[str, Field(max_length=64)]
    agent: Annotated[str, Field(min_length=1, max_length=120)]
    queue: Annotated[str, Field(max_length=80)] | None = None
    ivr_path: Annotated[str, Field(max_length=500)] | None = None
    at: SaneInstant | None = None


class OfferOut(BaseModel):
    delivered_to: list[int] = Field(description="staff ids whose screens got the pop")


# -- jobs ---------------------------------------------------------------------------------


class JobCreate(In):
    reference: Annotated[str, Field(min_length=1, max_length=80)]
    customer_id: DbId
    technician_id: DbId | None = None
    department_id: DbId | None = None
    description: Text | None = None
    completed_at: SaneInstant | None = None


class JobDetailOut(BaseModel):
    job_id: int
    reference: str
    customer_id: int
    technician_id: int | None
    department_id: int | None
    description: str | None
    completed_at: datetime | None


class JobSearch(Page):
    customer_id: DbId | None = None


# -- leads --------------------------------------------------------------------------------


class LeadCreate(In):
    customer_id: DbId
    need: Annotated[str, Field(min_length=1, max_length=2000)]
    demand_level: int = Field(ge=1, le=3)
    follow_up_staff_id: DbId
    equipment: Annotated[str, Field(max_length=2000)] | None = None
    notes: Text | None = None


class LeadOut(BaseModel):
    lead_id: int
    customer_id: int
    need: str
    equipment: str | None
    demand_level: int
    state: LeadState
    found_by_id: int | None
    assigned_to_id: int | None
    follow_up_at: datetime | None
    won_at: datetime | None
    notes: str | None
    proposal: str | None = None
    proposal_by_id: int | None = None
    proposal_signed_by_id: int | None = None
    proposal_signed_at: datetime | None = None
    order_value: Decimal | None = None
    credit_amount: Decimal | None = None
    credit_payable: bool = False
    credit_paid_at: datetime | None = None


class LeadActionIn(In):
    action: LeadAction
    note: Text | None = None
    order_value: Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=2)] | None = None


class LeadActionOut(BaseModel):
    lead: LeadOut
    finder_credited_staff_id: int | None
    finder_credit_amount: Decimal | None = None


class LeadProposalIn(In):
    proposal: Annotated[str, Field(min_length=1, max_length=5000)]


class LeadSearch(Page):
    customer_id: DbId | None = None
    assigned_to_id: DbId | None = None
    state: LeadState | None = None


# -- agent ----------------------------------------------------------------------------------


class AgentStatusIn(In):
    status: str = Field(max_length=20, description="logged_out, ready or not_ready")
    reason: str | None = Field(None, max_length=40,
                               description="with not_ready: one of the configured reasons")


class AgentHoldIn(In):
    on: bool = Field(description="true: put the call on hold; false: back to the caller")


class AgentTransferIn(In):
    queue: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$",
                       description="the queue the caller goes to (letters, digits, - _ .)")


class AgentStateOut(BaseModel):
    staff_id: int
    status: str
    reason: str | None = None
    reasons: list[str] = []
    current_offer: dict[str, object] | None


class StaffOut(BaseModel):
    staff_id: int
    name: str
    department_id: int | None
    roles: list[str]
