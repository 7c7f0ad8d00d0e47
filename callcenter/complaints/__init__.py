"""Complaints in the service shell: everything that changes with how complaints are handled.

- `policy`: `complaint_policy(settings)` (and the post-repair callbacks'
  `callback_problem_policy`), the one place settings become the domain's rules;
- `api`: `/api/complaints...` and `setup`, which mounts the routes of complaints;
- `page`: the managers' `/complaints` page; `form`: the public `/complaint` form;
- `recordings`: a complaint's recording (`/complaints/{id}/recording`), for whoever may read it;
- `jobs`: the escalation job on the job loop (and its e-mail), its own `setup`.

The rules themselves live in `crm` (`crm.complaints`, `crm.services.complaints`,
`crm.services.complaint_escalation`); storage in `callcenter.storage`.
"""
