"""Demo step: complaints from three channels, the major rule, and one escalation pass.

Opens an ordinary web-form complaint, a journalist's complaint (major: VIP)
and a media threat (major: keywords) for the sample customers, then runs the
escalation job as if four days had passed, and prints what happened.
"""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from callcenter.clock import system_clock
from callcenter.complaints.policy import complaint_policy
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import CustomerPhone
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services.complaint_escalation import escalate_overdue
from crm.services.complaints import Actor, OpenComplaint, open_complaint

SAMPLES = [
    ("+8613912345678", ComplaintChannel.WEB_FORM, ComplaintCategory.TIMELINESS, "师傅约好上午来，一直没来"),
    ("+8613700001111", ComplaintChannel.PHONE_IVR, ComplaintCategory.REPAIR_QUALITY, "维修后空调仍然不制冷"),
    ("+8613912345678", ComplaintChannel.AGENT, ComplaintCategory.ATTITUDE, "再不处理我就找电视台曝光"),
]


async def complaints_step(settings: Settings, db: Database, console: Console) -> None:
    policy = complaint_policy(settings)
    table = Table(title="Complaints opened")
    for column in ("ticket", "channel", "severity", "major reasons", "owner"):
        table.add_column(column)
    for e164, channel, category, text in SAMPLES:
        async with db.sessions() as session:
            customer_id = await session.scalar(select(CustomerPhone.customer_id).where(CustomerPhone.e164 == e164))
        if customer_id is None:
            console.print(f"[yellow]sample customer {e164[:6]}… missing; skipped[/]")
            continue
        opened = await open_complaint(
            OpenComplaint(customer_id=customer_id, channel=channel, category=category,
                          description=text, actor=Actor.system("demo")),
            SqlUnitOfWork(db), clock=system_clock, policy=policy,
        )
        table.add_row(opened.ticket, channel, opened.severity, ", ".join(opened.major_reasons) or "-",
                      f"staff:{opened.owner_id}" if opened.owner_id else "unassigned")
    console.print(table)
    later = system_clock() + timedelta(days=4)
    done = await escalate_overdue(SqlUnitOfWork(db), now=later, policy=policy)
    for step in done:
        console.print(f"escalated {step.ticket} to level {step.level} (manager staff:{step.manager_id})")
    console.print(f"[green]✓[/] escalation pass four days later: {len(done)} escalated")
