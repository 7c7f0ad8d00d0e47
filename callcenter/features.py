"""The feature modules the app factory mounts, in order.

Each entry is a `setup(app)` that adds routes, cleanup contexts and periodic
jobs (`app[JOB_LOOP].add(...)`) for one concern.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from callcenter import screenpop, wallboard
from callcenter.callbacks import feature as callbacks_feature
from callcenter.complaints import api as complaints_api
from callcenter.leads import jobs as lead_jobs
from callcenter.telephony.asterisk import setup as asterisk_setup
from callcenter.telephony.twilio import setup as twilio_setup
from callcenter.web import agent as agent_page
from callcenter.web import api as rest_api
from callcenter.web import home, report_versions, verification_sample
from callcenter.web import reports as reports_web

FEATURES: list[Callable[[web.Application], None]] = [
    home.setup,
    twilio_setup.setup,  # Twilio voice webhooks (issue 4)
    complaints_api.setup,  # complaints API, /complaints page, public /complaint form, escalation job (issue 7)
    rest_api.setup,  # REST API /api/ customers, phones, contacts, calls, jobs, leads + /api/openapi.json (issue 6)
    screenpop.setup,  # screen-pop hub, LISTEN/NOTIFY fan-out (issue 6)
    wallboard.setup,  # /wallboard page and socket on the screen-pop's fan-out (issue 16)
    agent_page.setup,  # the /agent page and its /agent/ws socket (issue 6)
    asterisk_setup.setup,  # FastAGI server, AMI client + call log + dialer, fallback spool job (issue 5)
    reports_web.setup,  # /api/reports, /supervisor page, scheduled-report job (issue 9)
    report_versions.setup,  # published supervision versions, diffs, publish, corrections (issue 14)
    verification_sample.setup,  # the periodic verification sample, per period and department (issue 14)
    lead_jobs.setup,  # lead follow-up reminders (issue 15, seed 004)
    callbacks_feature.setup,  # /callbacks page, /api/callbacks, campaigns, dispatcher, sources (issue 8)
]
