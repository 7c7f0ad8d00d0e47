"""Reports and escalations delivered by e-mail to a real SMTP server (aiosmtpd), on both engines."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email.message import EmailMessage

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.complaints.jobs import escalation_mailer
from callcenter.mail_deliveries import deliveries
from callcenter.reporting import schedule
from callcenter.reporting.delivery import deliver_due_reports, parse_recipients
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Staff
from crm.services.complaint_escalation import escalate_overdue
from crm.services.complaints import open_complaint
from tests import factories
from tests.complaints.helpers import complaint, org, uow
from tests.conftest import Served, free_port
from tests.mail_server import Inbox, running_smtp

from .helpers import local


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as server:
        yield server


def _mail_settings(settings: Settings, port: int, **more: object) -> Settings:
    return settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
        "smtp_from": "hotline@example.cn", "report_mail_attachments": "xlsx,pdf",
        "report_mail_to": "weekly=boss@example.cn,hr@example.cn; weekly/SVC=svc-head@example.cn",
        **more,
    })


def _attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename() or "": part.get_content() for part in message.iter_attachments()}


async def test_the_monday_weekly_report_is_mailed_with_html_body_and_xlsx_and_pdf_attached(
    db: Database, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    await factories.department(db, "SVC")
    settings = _mail_settings(settings, port)
    now = local("2026-05-18 08:00")  # Monday after the daily time: week 2026-W20 is due
    await schedule.make_due_reports(db, settings, now)
    sent = await deliver_due_reports(db, settings, now)
    assert sorted(sent) == [("weekly", "2026-W20", "sent")] * 2
    by_rcpt = {tuple(rcpt): message for rcpt, message in inbox.messages}
    assert set(by_rcpt) == {("boss@example.cn", "hr@example.cn"), ("svc-head@example.cn",)}
    centre = by_rcpt[("boss@example.cn", "hr@example.cn")]
    assert "2026-W20" in centre["Subject"]
    html_part = centre.get_body(preferencelist=("html",))
    assert html_part is not None and "<table" in html_part.get_content()
    files = _attachments(centre)
    assert set(files) == {"weekly-2026-W20-all.xlsx", "weekly-2026-W20-all.pdf"}
    workbook = openpyxl.load_workbook(io.BytesIO(files["weekly-2026-W20-all.xlsx"]))
    assert workbook.sheetnames
    assert len(PdfReader(io.BytesIO(files["weekly-2026-W20-all.pdf"])).pages) >= 1
    department = _attachments(by_rcpt[("svc-head@example.cn",)])
    assert "weekly-2026-W20-department-SVC.xlsx" in department
    record = {r.key: r for r in await deliveries(db, "report")}
    assert record["report:weekly:2026-W20:all"].status == "sent"
    assert record["report:weekly:2026-W20:all"].recipients == ["boss@example.cn", "hr@example.cn"]
    assert sorted(record["report:weekly:2026-W20:all"].attachments) == sorted(files)
    assert record["report:weekly:2026-W20:department:SVC"].status == "sent"
    assert await deliver_due_reports(db, settings, now) == []  # each report is mailed once
    assert len(inbox.messages) == 2


async def test_a_report_the_mail_server_did_not_take_is_recorded_failed_and_sent_on_a_later_pass(
    db: Database, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    now = local("2026-05-18 08:00")
    down = _mail_settings(settings, free_port(), report_mail_to="weekly=boss@example.cn")
    await schedule.make_due_reports(db, down, now)
    assert await deliver_due_reports(db, down, now) == [("weekly", "2026-W20", "failed")]
    (failed,) = await deliveries(db, "report")
    assert failed.status == "failed" and "SMTP_HOST" in (failed.error or "")
    up = _mail_settings(settings, port, report_mail_to="weekly=boss@example.cn")
    assert await deliver_due_reports(db, up, now) == [("weekly", "2026-W20", "sent")]
    (sent,) = await deliveries(db, "report")
    assert sent.status == "sent" and sent.attempts == 2 and len(inbox.messages) == 1


async def test_an_escalation_is_mailed_to_the_manager_it_reached(
    db: Database, settings: Settings, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    settings = _mail_settings(settings, port)
    people = await org(db)
    async with db.sessions() as session:
        manager = await session.get(Staff, people.service_manager.id)
        assert manager is not None
        manager.email = "svc-boss@example.cn"
        await session.commit()
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    clock.advance(hours=25)
    done = await escalate_overdue(uow(db), now=clock(), on_escalated=escalation_mailer(db, settings, clock()))
    assert len(done) == 1
    ((rcpt, message),) = inbox.messages
    assert rcpt == ["svc-boss@example.cn"] and opened.ticket in message["Subject"]
    (record,) = await deliveries(db, "escalation")
    assert record.key == f"escalation:{opened.complaint_id}:1" and record.status == "sent"
    async with db.sessions() as session:
        assert await session.scalar(select(Staff.email).where(Staff.id == manager.id)) == "svc-boss@example.cn"


def test_a_recipient_list_that_is_not_kind_and_addresses_is_refused_with_the_setting_named() -> None:
    assert parse_recipients("daily=a@x.cn; monthly/SVC=b@x.cn,c@x.cn") == {
        ("daily", None): ["a@x.cn"], ("monthly", "SVC"): ["b@x.cn", "c@x.cn"]}
    for bad in ("hourly=a@x.cn", "daily=not-an-address", "daily"):
        with pytest.raises(ValueError, match="REPORT_MAIL_TO"):
            parse_recipients(bad)


async def test_a_due_lead_follow_up_is_mailed_to_the_named_person_once(
    db: Database, settings: Settings, clock: FixedClock, smtp: tuple[Inbox, int]
) -> None:
    from datetime import timedelta

    from callcenter.leads.jobs import remind_and_mail
    from crm.services.leads import NewLead, record_latent_need

    inbox, port = smtp
    settings = _mail_settings(settings, port)
    dept = await factories.department(db, "AFTERSALES")
    follower = await factories.staff(db, "sales-wang", ["agent"], dept.id)
    async with db.sessions() as session:
        row = await session.get(Staff, follower.id)
        assert row is not None
        row.email = "wang@example.cn"
        await session.commit()
    customer = await factories.customer(db, department_id=dept.id)
    await record_latent_need(NewLead(customer.id, "想换笔记本", 3, follower.id, None), uow(db), at=clock())
    later = clock() + timedelta(days=7, minutes=1)
    assert len(await remind_and_mail(db, settings, later)) == 1
    assert await remind_and_mail(db, settings, later) == []
    ((rcpt, message),) = inbox.messages
    assert rcpt == ["wang@example.cn"] and "follow-up due" in message["Subject"]
    (record,) = await deliveries(db, "lead")
    assert record.status == "sent"


async def test_supervisors_read_what_was_mailed(served: Served, smtp: tuple[Inbox, int]) -> None:
    import aiohttp

    from callcenter.appkeys import DB
    from tests.complaints.helpers import bearer

    inbox, port = smtp
    db = served.app[DB]
    settings = _mail_settings(served.settings, port, report_mail_to="weekly=boss@example.cn")
    now = local("2026-05-18 08:00")
    await schedule.make_due_reports(db, settings, now)
    await deliver_due_reports(db, settings, now)
    inspector = await factories.staff(db, "inspector", ["supervisor"])
    async with aiohttp.ClientSession() as http:
        got = await http.get(f"{served.base_url}/api/reports/deliveries?kind=report",
                             headers=await bearer(db, inspector))
        body = await got.json()
    ((row),) = body["deliveries"]
    assert row["key"] == "report:weekly:2026-W20:all" and row["status"] == "sent"
    assert row["recipients"] == ["boss@example.cn"] and len(row["attachments"]) == 2
