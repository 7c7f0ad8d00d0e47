"""Callbacks in the service shell: the staff page and API, the periodic sources, the dispatcher.

- `feature.setup`: mounts the routes and the dispatcher (an owner context);
- `jobs.setup`: the periodic sources (post-repair callbacks, the verification sample);
- `routes`: `/callbacks`, `/api/callbacks`, `/api/campaigns`;
- `loop.Dispatcher`: claims due callbacks, commits them as `dialing` and dials
  through a `crm.services.callback_ports.Dialer` (Asterisk AMI Originate,
  Twilio calls.create); a sweep settles lapsed claims with the carrier. Several
  dispatcher processes may share a PostgreSQL database; SQLite takes one.
  Run one inside the app or alone: `python -m callcenter.callbacks` (`__main__`);
- `config`: retries, ring time, call window and samples from the `# callbacks` settings.

The rules live in `crm.services.callbacks` and its neighbours; storage in
`callcenter.storage.repositories.callbacks`.
"""
