"""The callback dispatcher: the service's own job loop over the `callbacks` table.

`loop.Dispatcher` claims due callbacks, commits them as `dialing` and dials
through a `crm.services.callback_ports.Dialer` (Asterisk AMI Originate,
Twilio calls.create); a sweep settles lapsed claims with the carrier. Several
dispatcher processes may share a PostgreSQL database; SQLite takes one.
Run one inside the app (`feature.setup`) or alone: `python -m callcenter.dialer`.
"""
