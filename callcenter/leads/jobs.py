"""Lead follow-up reminders on the service's own job loop (seed 004: 定期由专人与客户沟通).

`remind_due_follow_ups` tells each due lead's follow-up person once per
follow-up date (a notification; an e-mail too when SMTP is configured and the
person has an address, once per lead and date through `mail_deliveries`).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from email.message import EmailMessage

from aiohttp import web

from callcenter.appkeys import DB, JOB_LOOP, SETTINGS
from callcenter.jobs import PeriodicJob
from callcenter.mail import MailSettings, build_message
from callcenter.mail_deliveries import deliver_once
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Staff
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.lead_capture import Reminder, remind_due_follow_ups

JOB_NAME = "leads.remind"


async def remind_and_mail(db: Database, settings: Settings, now: datetime) -> list[Reminder]:
    told = await remind_due_follow_ups(SqlUnitOfWork(db), now=now)
    config = MailSettings.of(settings)
    if not config.configured:
        return told
    for reminder in told:
        async with db.sessions() as session:
            person = await session.get(Staff, reminder.follower_id)
        if person is None or not person.email:
            continue
        subject = f"客户需求跟进 Lead {reminder.lead_id}: follow-up due"
        body = (f"<h1>{html.escape(subject)}</h1><p>Customer {reminder.customer_id}: "
                f"{html.escape(reminder.need)}</p><p>Due {reminder.follow_up_at.isoformat()}</p>")
        address = person.email

        async def build(body: str = body, subject: str = subject, address: str = address) -> EmailMessage:
            return build_message(config.sender, [address], subject, body)

        await deliver_once(db, config, key=f"lead:{reminder.lead_id}:{reminder.follow_up_at.isoformat()}",
                           kind="lead", subject=subject, to=[address], build=build, now=now)
    return told


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]

    async def run(now: datetime) -> list[Reminder]:
        return await remind_and_mail(app[DB], settings, now)

    app[JOB_LOOP].add(PeriodicJob(JOB_NAME, timedelta(seconds=settings.lead_reminder_interval_s), run))
