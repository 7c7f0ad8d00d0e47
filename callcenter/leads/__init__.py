"""Leads in the service shell (seed 004: latent needs followed up until won or lost).

- `policy`: `finder_credit_policy(settings)`, the one place settings become the
  finder's credit rule;
- `jobs`: the follow-up reminders on the job loop (and their e-mail).

The rules live in `crm` (`crm.leads`, `crm.services.leads`,
`crm.services.lead_capture`); the REST routes in `callcenter.web.api.leads`;
storage in `callcenter.storage.repositories.leads`; the follow-through report
in `reports.lead_follow_through`.
"""
