"""`/api/customers`, phones, the customer card and service jobs: thin routes over crm.services.customers."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

from callcenter.cards import CardOut, CustomerOut, card_out
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import (
    CustomerCreate,
    CustomerPatch,
    CustomerSearch,
    JobCreate,
    JobDetailOut,
    JobSearch,
    MergeIn,
    Page,
    PhoneLink,
)
from crm.access import CUSTOMER_WRITERS, JOB_WRITERS
from crm.customers import Customer
from crm.enums import Role
from crm.services import customers as svc

READERS = (Role.AGENT, Role.TECHNICIAN, Role.CALLBACK_STAFF, Role.MANAGER, Role.SUPERVISOR)
WRITERS = CUSTOMER_WRITERS  # the use cases check the same tuple
TAG = "customers"


@api("GET", "/api/customers", summary="Search customers by name, reference, company or number",
     roles=READERS, tag=TAG, query=CustomerSearch, response=list[CustomerOut])
async def search(call: ApiCall) -> list[Customer]:
    q: CustomerSearch = call.query
    return await svc.search_customers(
        call.uow(), identity=call.identity, text=q.q, limit=q.limit, offset=q.offset
    )


@api("POST", "/api/customers", summary="Create a customer", roles=WRITERS, tag=TAG,
     body=CustomerCreate, response=CustomerOut, status=201)
async def create(call: ApiCall) -> Customer:
    body: CustomerCreate = call.body
    draft = svc.CustomerDraft(**body.model_dump())
    return await svc.create_customer(
        draft, call.uow(), default_region=call.settings.default_region, identity=call.identity
    )


@api("GET", "/api/customers/by-phone/{phone}", summary="The customer owning a number (any format)",
     roles=READERS, tag=TAG, response=CustomerOut)
async def by_phone(call: ApiCall) -> Customer:
    return await svc.find_by_phone(
        unquote(call.request.match_info["phone"]), call.uow(),
        default_region=call.settings.default_region, identity=call.identity,
    )


@api("GET", "/api/customers/unidentified", summary="Unidentified caller records (withheld or "
     "unreadable numbers) waiting to be linked to a customer or named", roles=READERS, tag=TAG,
     query=Page, response=list[CustomerOut])
async def unidentified(call: ApiCall) -> list[Customer]:
    q: Page = call.query
    return await svc.list_unidentified_callers(
        call.uow(), identity=call.identity, limit=q.limit, offset=q.offset)


@api("GET", "/api/customers/{customer_id}", summary="One customer", roles=READERS, tag=TAG,
     response=CustomerOut)
async def get(call: ApiCall) -> Customer:
    return await svc.get_customer(call.path_id("customer_id"), call.uow(), identity=call.identity)


@api("PATCH", "/api/customers/{customer_id}", summary="Change a customer's profile (naming an "
     "unknown caller verifies them)", roles=WRITERS, tag=TAG, body=CustomerPatch,
     response=CustomerOut)
async def patch(call: ApiCall) -> Customer:
    body: CustomerPatch = call.body
    return await svc.update_customer(
        call.path_id("customer_id"), body.model_dump(exclude_unset=True), call.uow(),
        identity=call.identity,
    )


@api("GET", "/api/customers/{customer_id}/card", summary="The customer card: profile, jobs, "
     "complaints, surveys, contact history, calls, leads", roles=READERS, tag=TAG, response=CardOut)
async def card(call: ApiCall) -> CardOut:
    found = await svc.customer_card(call.path_id("customer_id"), call.uow(), identity=call.identity)
    return card_out(found)


@api("POST", "/api/customers/{customer_id}/phones", summary="Link a number to the customer (an "
     "unknown caller's record is merged in)", roles=WRITERS, tag="phones", body=PhoneLink,
     response=CustomerOut)
async def link_phone(call: ApiCall) -> Customer:
    body: PhoneLink = call.body
    return await svc.link_phone(
        call.path_id("customer_id"), body.phone, call.uow(),
        default_region=call.settings.default_region, label=body.label, primary=body.primary,
        identity=call.identity,
    )


@api("DELETE", "/api/customers/{customer_id}/phones/{phone}", summary="Unlink a number",
     roles=WRITERS, tag="phones", response=None, status=204)
async def unlink_phone(call: ApiCall) -> None:
    await svc.unlink_phone(
        call.path_id("customer_id"), unquote(call.request.match_info["phone"]), call.uow(),
        default_region=call.settings.default_region, identity=call.identity,
    )


@api("POST", "/api/customers/{customer_id}/merge", summary="Fold an unverified caller record "
     "into this customer", roles=WRITERS, tag=TAG, body=MergeIn, response=CustomerOut)
async def merge(call: ApiCall) -> Customer:
    body: MergeIn = call.body
    return await svc.merge_caller_into(
        body.source_customer_id, call.path_id("customer_id"), call.uow(), identity=call.identity
    )


def _job(job: svc.JobRecord) -> JobDetailOut:
    return JobDetailOut.model_validate(job, from_attributes=True)


@api("GET", "/api/jobs", summary="A customer's service jobs", roles=READERS, tag="jobs",
     query=JobSearch, response=list[JobDetailOut])
async def jobs(call: ApiCall) -> list[JobDetailOut]:
    q: JobSearch = call.query
    if q.customer_id is None:
        from callcenter.web.errors import BadRequest

        raise BadRequest("pass customer_id", [{"field": "customer_id", "message": "required"}])
    found = await svc.list_jobs(call.uow(), customer_id=q.customer_id, identity=call.identity,
                                limit=q.limit, offset=q.offset)
    return [_job(j) for j in found]


@api("GET", "/api/jobs/{job_id}", summary="One service job", roles=READERS, tag="jobs",
     response=JobDetailOut)
async def job(call: ApiCall) -> JobDetailOut:
    return _job(await svc.get_job(call.path_id("job_id"), call.uow(), identity=call.identity))


@api("POST", "/api/jobs", summary="Record a service job (repair / visit)",
     roles=JOB_WRITERS, tag="jobs", body=JobCreate,
     response=JobDetailOut, status=201)
async def add_job(call: ApiCall) -> JobDetailOut:
    body: JobCreate = call.body
    record = svc.JobRecord(job_id=None, **body.model_dump())
    return _job(await svc.add_job(record, call.uow(), identity=call.identity, now=call.now(),
                                  zone=call.settings.timezone,
                                  backdate=timedelta(
                                      hours=call.settings.job_completion_backdate_hours)))
