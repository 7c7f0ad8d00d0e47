"""The feature modules the app factory mounts, in order.

Each entry is a `setup(app)` that adds routes, cleanup or owner contexts, or
periodic jobs for one concern. Periodic jobs are added one way: a package's
`jobs.py`, whose `setup(app)` calls `app[JOB_LOOP].add(PeriodicJob(...))`
and is listed here (see `callcenter.jobs`).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from callcenter import screenpop, wallboard
from callcenter.callbacks import feature as callbacks_feature
from callcenter.callbacks import jobs as callback_jobs
from callcenter.complaints import api as complaints_api
from callcenter.complaints import jobs as complaint_jobs
from callcenter.leads import jobs as lead_jobs
from callcenter.reporting import jobs as report_jobs
from callcenter.telephony.asterisk import jobs as asterisk_jobs
from callcenter.telephony.asterisk import setup as asterisk_setup
from callcenter.telephony.twilio import setup as twilio_setup
from callcenter.web import agent as agent_page
from callcenter.web import api as rest_api
from callcenter.web import home, report_versions, verification_sample
from callcenter.web import reports as reports_web

FEATURES: list[Callable[[web.Application], None]] = [
    home.setup,
    twilio_setup.setup,  # Twilio voice webhooks (issue 4)
    complaints_api.setup,  # complaints API, /complaints page, public /complaint form (issue 7)
    complaint_jobs.setup,  # complaint escalation job (issue 7)
    rest_api.setup,  # REST API /api/ customers, phones, contacts, calls, jobs, leads + /api/openapi.json (issue 6)
    screenpop.setup,  # screen-pop hub, LISTEN/NOTIFY fan-out (issue 6)
    wallboard.setup,  # /wallboard page and socket on the screen-pop's fan-out (issue 16)
    agent_page.setup,  # the /agent page and its /agent/ws socket (issue 6)
    asterisk_setup.setup,  # FastAGI server, AMI client + call log + dialer (issue 5)
    asterisk_jobs.setup,  # fallback spool import, agent queue sync (issue 5)
    reports_web.setup,  # /api/reports, /supervisor page (issue 9)
    report_versions.setup,  # published supervision versions, diffs, publish, corrections (issue 14)
    verification_sample.setup,  # the periodic verification sample, per period and department (issue 14)
    report_jobs.setup,  # scheduled reports, their delivery, supervision corrections (issues 9, 14)
    lead_jobs.setup,  # lead follow-up reminders (issue 15, seed 004)
    callbacks_feature.setup,  # /callbacks page, /api/callbacks, campaigns, dispatcher (issue 8)
    callback_jobs.setup,  # post-repair callbacks, the verification sample draws (issues 8, 14)
]
