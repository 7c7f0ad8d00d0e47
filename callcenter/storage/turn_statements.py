"""The batched PostgreSQL statements of `callcenter.storage.turn_store_pg.PgTurnStore`.

Each statement serves every item waiting in one batcher (one array parameter
per column, ``unnest``), columns and types from the table metadata, each
table's INSERT the one of `callcenter.storage.inserts`. What they guarantee:

- `SAVE` (the turns waiting) and `SETTLE` (the settlings waiting) write a
  call only if it is still as the turn had it, in every column of its record
  (`ports.GUARDED_FIELDS`, the IVR version among them): a turn may use a call
  remembered from an earlier turn instead of reading it, and a remembered
  call that has moved on writes nothing, exactly like a read one that lost a
  race. `SAVE` also checks every job the turn read (``seen``: a fingerprint
  of the job's row, of its customer's numbers and who added them, and of
  whether the customer is verified; the one the read returned) and writes
  nothing of a turn whose job reads differently now. What a turn
  writes with its state (steps, survey, audit) is joined to the calls that
  were updated: all or nothing, per call.
- `OPEN` logs the calls waiting: a call whose first turn was run for a kind
  of caller (`ports.Caller.like`) is inserted only if its number's customer
  is of that kind, under that customer's id, in the same statement that finds
  the customer (one round trip, one commit for a known caller's first
  webhook); every item's row says what was found: the customer, the call
  inserted (none: logged already, or another kind of caller), and the
  customer's last completed job with its fingerprint, which a survey later
  in the call uses without reading it again.
- `SAVE` and `OPEN` also draw survey ids from the table's sequence when
  asked (``$n`` ids, column ``ids``): a sequence value is not transactional,
  so reserving ids on a statement sent anyway costs no round trip and no
  commit.
"""

from __future__ import annotations

from callcenter.hotline.ports import GUARDED_FIELDS, SETTLE_COLUMNS
from callcenter.storage.inserts import (
    CALL_EVENTS,
    CALLS_TABLE,
    CONTACT_ONCE,
    CONTACTS,
    SURVEY_AUDIT,
    SURVEYS,
    pg_array_type,
)
from callcenter.storage.inserts import CALLS as INSERT_CALLS
from callcenter.storage.repositories.calls import RECORD_COLUMNS


def _type(column: str) -> str:
    return pg_array_type(CALLS_TABLE.c[column])


def _params(first: int, types: list[str]) -> str:
    return ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types))


RETURNING = "RETURNING " + ", ".join(column.name for column in RECORD_COLUMNS)
LOAD = (
    f"SELECT {', '.join(f'c.{column.name}' for column in RECORD_COLUMNS)} FROM calls c "
    f"JOIN unnest($1::{_type('carrier')}[], $2::{_type('carrier_call_id')}[]) AS k(carrier, sid) "
    "ON c.carrier = k.carrier AND c.carrier_call_id = k.sid"
)
#: a batched write's guard on `calls c` against the record in ``t`` (``g_<field>``)
_GUARD = (f"({', '.join(f'c.{name}' for name in GUARDED_FIELDS)}) IS NOT DISTINCT FROM "
          f"({', '.join(f't.g_{name}' for name in GUARDED_FIELDS)})")
_GUARD_TYPES = [_type(name) for name in GUARDED_FIELDS]
_GUARD_NAMES = ", ".join(f"g_{name}" for name in GUARDED_FIELDS)
_NEXT_IDS = ("ids AS (SELECT array_agg(nextval(pg_get_serial_sequence('surveys', 'id'))) AS ids "
             "FROM generate_series(1, ${}::int))")

# -- jobs: read with their fingerprint, checked by it -------------------------------------------

_JOB_COLUMNS = (
    "id, reference, customer_id, department_id, technician_id, completed_at, "
    "ARRAY(SELECT p.e164 FROM customer_phones p WHERE p.customer_id = service_jobs.customer_id "
    "ORDER BY p.id) AS phones, "
    "ARRAY(SELECT p.added_by_department_id FROM customer_phones p "
    "WHERE p.customer_id = service_jobs.customer_id ORDER BY p.id) AS added_by, "
    "ARRAY(SELECT p.added_by FROM customer_phones p "
    "WHERE p.customer_id = service_jobs.customer_id ORDER BY p.id) AS added_by_staff, "
    "(SELECT c.verified FROM customers c WHERE c.id = service_jobs.customer_id) AS verified")


def _jobs(select: str) -> str:
    """The jobs of `select` (``SELECT <_JOB_COLUMNS> FROM service_jobs ...``), each with
    ``seen``: the fingerprint a save checks (`SAVE`). One expression for reads and checks."""
    return ("SELECT j.*, md5(ROW(j.id, j.reference, j.customer_id, j.department_id, "
            "j.technician_id, j.completed_at AT TIME ZONE 'UTC', j.phones, j.added_by, "
            f"j.added_by_staff, j.verified)::text) AS seen FROM ({select}) j")


_LAST_JOB_OF = (f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE customer_id = {{}} "
                "AND completed_at IS NOT NULL ORDER BY completed_at DESC, id DESC LIMIT 1")
#: the department tree, read only when a number on a job's record was added by a person
DEPARTMENTS = "SELECT id, parent_id, supervision FROM departments"
LAST_JOBS = _jobs(
    f"SELECT DISTINCT ON (customer_id) {_JOB_COLUMNS} FROM service_jobs "
    "WHERE customer_id = ANY($1::bigint[]) AND completed_at IS NOT NULL "
    "ORDER BY customer_id, completed_at DESC, id DESC")
JOBS_BY_REFERENCE = _jobs(
    f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE reference = ANY($1::text[])")
JOBS_BY_ID = _jobs(f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE id = ANY($1::bigint[])")
#: the fingerprint of the job a read ``r`` (how, id, ref) names, as it reads now
_SEEN_NOW = {
    "id": _jobs(f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE id = r.id"),
    "reference": _jobs(f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE reference = r.ref"),
    "customer": _jobs(_LAST_JOB_OF.format("r.id")),
}

# -- SAVE ---------------------------------------------------------------------------------------

N_SAVE_NOW = 2 + len(GUARDED_FIELDS) + 2
N_SAVE_READS = N_SAVE_NOW + 1  # call_id, how, id, ref, seen
N_SAVE_IDS = N_SAVE_READS + 5
_STEPS, STEP_NAMES = CALL_EVENTS.from_arrays(
    N_SAVE_IDS + 1, "s", join="JOIN u ON u.id = s.call_id")
_SURVEYS, SURVEY_NAMES = SURVEYS.from_arrays(
    N_SAVE_IDS + 1 + len(STEP_NAMES), "v",
    given={"created_at": f"${N_SAVE_NOW}", "updated_at": f"${N_SAVE_NOW}"},
    join="JOIN u ON u.id = v.call_id", returning="RETURNING id")
_AUDITS, AUDIT_NAMES = SURVEY_AUDIT.from_arrays(
    N_SAVE_IDS + 1 + len(STEP_NAMES) + len(SURVEY_NAMES), "x",
    join="JOIN v ON v.id = x.survey_id")
_MOVED = " UNION ".join(
    f"SELECT r.call_id FROM r WHERE r.how = '{how}' AND "
    f"(SELECT n.seen FROM ({seen}) n) IS DISTINCT FROM r.seen"
    for how, seen in _SEEN_NOW.items())
#: every turn waiting, in one statement: the guarded UPDATE per call (the call as the turn had
#: it, the jobs it read as they were), then, joined to the calls it updated, the steps, the
#: surveys and their audit; one row per turn: stored or not
SAVE = f"""
WITH t AS (
    SELECT * FROM unnest($1::{_type('id')}[], {_params(2, _GUARD_TYPES)},
                         ${2 + len(GUARDED_FIELDS)}::{_type('ivr_state')}[],
                         ${3 + len(GUARDED_FIELDS)}::{_type('ivr_path')}[])
        AS t(id, {_GUARD_NAMES}, state, path)
), r AS (
    SELECT * FROM unnest({_params(N_SAVE_READS, ['bigint', 'text', 'bigint', 'text', 'text'])})
        AS r(call_id, how, id, ref, seen)
), moved AS ({_MOVED}), u AS (
    UPDATE calls c SET ivr_state = t.state, ivr_version = t.g_ivr_version + 1,
                       ivr_path = t.path, updated_at = ${N_SAVE_NOW}
    FROM t WHERE c.id = t.id AND {_GUARD} AND t.id NOT IN (SELECT call_id FROM moved)
    RETURNING c.id
), e AS ({_STEPS}), v AS ({_SURVEYS}), a AS ({_AUDITS}), {_NEXT_IDS.format(N_SAVE_IDS)}
SELECT t.id, u.id IS NOT NULL AS stored, ids.ids FROM t LEFT JOIN u ON u.id = t.id CROSS JOIN ids
"""

# -- SETTLE -------------------------------------------------------------------------------------

_N_SETS = 2 + len(GUARDED_FIELDS)
N_SETTLE_NOW = _N_SETS + 2 * len(SETTLE_COLUMNS)
_SETTLE_EVENTS, SETTLE_EVENT_NAMES = CALL_EVENTS.from_arrays(
    N_SETTLE_NOW + 1, "s", join="JOIN u ON u.id = s.call_id")
_CONTACTS, CONTACT_NAMES = CONTACTS.from_arrays(
    N_SETTLE_NOW + 1 + len(SETTLE_EVENT_NAMES), "x", given={"created_at": f"${N_SETTLE_NOW}"},
    join="JOIN u ON u.id = x.call_id", where=CONTACT_ONCE.format("x.call_id"))
#: every settling waiting: per call, the columns it sets (a flag each) if the call is as the
#: settling had it, the events, and the contact (once per call)
SETTLE = f"""
WITH t AS (
    SELECT * FROM unnest($1::{_type('id')}[], {_params(2, _GUARD_TYPES)},
        {", ".join(f"${_N_SETS + 2 * i}::boolean[], ${_N_SETS + 1 + 2 * i}::{_type(c)}[]"
                   for i, c in enumerate(SETTLE_COLUMNS))})
        AS t(id, {_GUARD_NAMES}, {", ".join(f"set_{c}, new_{c}" for c in SETTLE_COLUMNS)})
), u AS (
    UPDATE calls c SET updated_at = ${N_SETTLE_NOW},
        {", ".join(f"{c} = CASE WHEN t.set_{c} THEN t.new_{c} ELSE c.{c} END"
                   for c in SETTLE_COLUMNS)}
    FROM t WHERE c.id = t.id AND {_GUARD}
    RETURNING c.id
), e AS ({_SETTLE_EVENTS}), k AS ({_CONTACTS})
SELECT id FROM u
"""

# -- OPEN ---------------------------------------------------------------------------------------

CALLER = (
    "SELECT p.e164, c.id, c.verified, c.language, c.timezone FROM customer_phones p "
    "JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ANY($1::text[])"
)
_OPEN_CALLS, OPEN_NAMES = INSERT_CALLS.from_arrays(
    1, "n", given={"customer_id": "CASE WHEN n.e164 IS NULL THEN n.known ELSE k.id END"},
    keys=(("known", "bigint"), ("e164", "text"), ("like_verified", "boolean"),
          ("like_language", "text"), ("like_timezone", "text")),
    join="LEFT JOIN k ON k.e164 = n.e164",
    where="WHERE n.e164 IS NULL OR (k.verified, k.language, k.timezone) = "
          "(n.like_verified, n.like_language, n.like_timezone)",
    returning=RETURNING)
_OPEN_EVENTS, OPEN_EVENT_NAMES = CALL_EVENTS.from_arrays(
    len(OPEN_NAMES) + 1, "s", given={"call_id": "c.id"},
    keys=(("carrier", _type("carrier")), ("sid", _type("carrier_call_id"))),
    join="JOIN c ON c.carrier = s.carrier AND c.carrier_call_id = s.sid")
N_OPEN_IDS = len(OPEN_NAMES) + len(OPEN_EVENT_NAMES) + 1
_E164 = f"${OPEN_NAMES.index('e164') + 1}::text[]"
#: the job columns of an `OPEN` row (prefixed ``j_``)
JOB_FIELDS = ("id", "reference", "customer_id", "department_id", "technician_id",
              "completed_at", "phones", "added_by", "added_by_staff", "verified", "seen")
#: every new call waiting: its caller found (by number, when its first turn was run for a kind
#: of caller) and the call inserted (a call logged already, or whose caller is of another kind,
#: is skipped) with the events of exactly the calls inserted; one row per call: the call
#: (``id`` null: not inserted), the customer (``k_``) and their last completed job (``j_``)
OPEN = f"""
WITH k AS (
    SELECT p.e164, c.id, c.verified, c.language, c.timezone FROM customer_phones p
    JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ANY({_E164})
), c AS ({_OPEN_CALLS}), e AS ({_OPEN_EVENTS}), {_NEXT_IDS.format(N_OPEN_IDS)}
SELECT q.sid AS q_sid, k.id AS k_id, k.verified AS k_verified, k.language AS k_language,
       k.timezone AS k_timezone, {", ".join(f"c.{col.name}" for col in RECORD_COLUMNS)},
       {", ".join(f"j.{name} AS j_{name}" for name in JOB_FIELDS)}, ids.ids
FROM unnest(${OPEN_NAMES.index('carrier') + 1}::{_type('carrier')}[],
            ${OPEN_NAMES.index('carrier_call_id') + 1}::{_type('carrier_call_id')}[],
            {_E164}) AS q(carrier, sid, e164)
LEFT JOIN k ON k.e164 = q.e164
LEFT JOIN c ON c.carrier = q.carrier AND c.carrier_call_id = q.sid
LEFT JOIN LATERAL ({_jobs(_LAST_JOB_OF.format("k.id"))}) j ON true
CROSS JOIN ids
"""
NEXT_SURVEY_IDS = (
    "SELECT nextval(pg_get_serial_sequence('surveys', 'id')) FROM generate_series(1, $1)")
