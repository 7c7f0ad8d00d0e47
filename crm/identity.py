"""Who is acting, and what their roles let them do.

Supervision is separated from execution (001): the people who are scored
(agents, technicians, their managers) can read their own figures but never
change the data they are scored on; only supervisors and admins verify
surveys and run supervision reports.
"""

from __future__ import annotations

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

    def has(self, *roles: Role) -> bool:
        return Role.ADMIN in self.roles or any(r in self.roles for r in roles)

    def require(self, *roles: Role) -> None:
        if not self.has(*roles):
            need = ", ".join(r.value for r in roles)
            raise PermissionDenied(f"this needs one of the roles: {need}")

    @property
    def label(self) -> str:
        return f"staff:{self.staff_id}"

    @property
    def sees_all_departments(self) -> bool:
        """Supervisors, admins and callback staff work across departments."""
        return self.has(Role.SUPERVISOR, Role.CALLBACK_STAFF)

    def may_see_department(self, department_id: int | None) -> bool:
        if self.sees_all_departments or department_id is None:
            return True
        return department_id == self.department_id
