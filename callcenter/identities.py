"""A staff row as the domain sees the person acting: `identity_of(staff) -> Identity`.

Below the web package and the screen-pop (both read staff rows); roles go
through `crm.access.parse_roles` (odd spellings folded, unknown names grant nothing).
"""

from __future__ import annotations

from callcenter.storage.tables import Staff
from crm.access import parse_roles
from crm.identity import Identity


def identity_of(staff: Staff) -> Identity:
    return Identity(staff.id, staff.username, staff.name, parse_roles(staff.roles),
                    staff.department_id)
