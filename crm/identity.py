"""Who is acting, and what their roles let them do.

Supervision is separated from execution (001): the people who are scored
(agents, technicians, their managers) can read their own figures but never
change the data they are scored on; only supervisors and admins verify
surveys and run supervision reports.

The department rule (one rule for every record type: customers and what
hangs on them, contacts, complaints, callbacks, leads), `Identity.may_see_department`:
- supervisors, callback staff and admins read every department's records;
- members of a department that answers the hotline (the call centre, and any
  team below it; `OrgChart.hotline`) read every department's records too: any
  customer may call the hotline, and the agent needs the full card to serve them;
- everyone else reads their own department and every department below it
  (`Identity.below`, resolved from the department tree when the identity is built);
- a record of no department is read by everyone; a person of no department reads
  only those.
Lists are filtered by the same rule (`Identity.readable_departments`) as single reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crm.enums import Role


class PermissionDenied(Exception):
    """The actor may not do this; the use case stored the refusal before raising."""

    http_status = 403


@dataclass(frozen=True)
class Identity:
    staff_id: int
    username: str
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    department_id: int | None = None
    below: frozenset[int] = frozenset()  # the departments below department_id (OrgChart)
    answers_hotline: bool = False  # a member of a department that answers the hotline

    def has(self, *roles: Role) -> bool:
        return Role.ADMIN in self.roles or any(r in self.roles for r in roles)

    @property
    def label(self) -> str:
        return f"staff:{self.staff_id}"

    @property
    def sees_all_departments(self) -> bool:
        """Supervisors, admins and callback staff work across departments."""
        return self.has(Role.SUPERVISOR, Role.CALLBACK_STAFF)

    @property
    def own_departments(self) -> frozenset[int] | None:
        """Their department and every one below it (None: every department, the roles of
        `sees_all_departments`); empty for a person of no department."""
        if self.sees_all_departments:
            return None
        if self.department_id is None:
            return frozenset()
        return self.below | {self.department_id}

    @property
    def readable_departments(self) -> frozenset[int] | None:
        """The departments whose records this person reads (None: every department);
        records of no department are readable besides. See the module's department rule."""
        if self.answers_hotline:
            return None
        return self.own_departments

    def may_see_department(self, department_id: int | None) -> bool:
        readable = self.readable_departments
        return department_id is None or readable is None or department_id in readable


@dataclass(frozen=True)
class OrgChart:
    """The department tree (`parents`: department -> its parent) and the departments that
    answer the hotline (`hotline_roots`: those and every department below them)."""

    parents: Mapping[int, int | None]
    hotline_roots: frozenset[int] = frozenset()

    def chain(self, department_id: int) -> list[int]:
        """The department and its ancestors, nearest first (a loop in the data ends it)."""
        found: list[int] = []
        current: int | None = department_id
        while current is not None and current not in found:
            found.append(current)
            current = self.parents.get(current)
        return found

    def below(self, department_id: int | None) -> frozenset[int]:
        """Every department strictly below `department_id`."""
        if department_id is None:
            return frozenset()
        return frozenset(d for d in self.parents
                         if d != department_id and department_id in self.chain(d))

    def answers_hotline(self, department_id: int | None) -> bool:
        return department_id is not None and any(
            d in self.hotline_roots for d in self.chain(department_id))

    def identity(self, staff_id: int, username: str, name: str, roles: frozenset[Role],
                 department_id: int | None) -> Identity:
        return Identity(staff_id, username, name, roles, department_id,
                        self.below(department_id), self.answers_hotline(department_id))
