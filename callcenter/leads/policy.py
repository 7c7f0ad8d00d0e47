"""Build the finder's credit rule (`crm.leads.FinderCreditPolicy`) from `Settings`."""

from __future__ import annotations

from callcenter.settings import Settings
from crm.leads import FinderCreditPolicy


def finder_credit_policy(settings: Settings) -> FinderCreditPolicy:
    return FinderCreditPolicy(fixed=settings.lead_finder_credit, rate=settings.lead_finder_credit_rate)
