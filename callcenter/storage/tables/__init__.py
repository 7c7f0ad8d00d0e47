"""All tables, one module per concern. Importing this package registers them on `Base`."""

from callcenter.storage.tables.base import Base
from callcenter.storage.tables.callbacks import Callback, CallbackAttempt, Campaign
from callcenter.storage.tables.calls import Call, CallEvent, CallSegment, Contact
from callcenter.storage.tables.complaints import (
    Complaint,
    ComplaintEscalation,
    ComplaintGroup,
    ComplaintHistory,
    Notification,
)
from callcenter.storage.tables.core import (
    ApiToken,
    Customer,
    CustomerPhone,
    Department,
    DoNotCall,
    ServiceJob,
    Staff,
    WebSession,
)
from callcenter.storage.tables.ops import (
    AccessRefusal,
    AgentState,
    AgentStateSpan,
    JobLock,
    MailDelivery,
    RateEvent,
    ReportRun,
    SpoolImport,
)
from callcenter.storage.tables.supervision import (
    ReportVersion,
    VerificationDraw,
    VerificationSampleSurvey,
)
from callcenter.storage.tables.surveys import Lead, LeadFollowUp, Survey, SurveyAudit

__all__ = [
    "AccessRefusal",
    "AgentState",
    "AgentStateSpan",
    "ApiToken",
    "Base",
    "Call",
    "CallEvent",
    "CallSegment",
    "Callback",
    "CallbackAttempt",
    "Campaign",
    "Complaint",
    "ComplaintEscalation",
    "ComplaintGroup",
    "ComplaintHistory",
    "Contact",
    "Customer",
    "CustomerPhone",
    "Department",
    "DoNotCall",
    "JobLock",
    "Lead",
    "LeadFollowUp",
    "Notification",
    "RateEvent",
    "ReportRun",
    "MailDelivery",
    "ReportVersion",
    "ServiceJob",
    "SpoolImport",
    "Staff",
    "Survey",
    "SurveyAudit",
    "VerificationDraw",
    "VerificationSampleSurvey",
    "WebSession",
]
