"""Refused attempts are kept: the port and the one way a use case refuses.

Guarantee: `refuse` undoes whatever the use case's unit of work holds, stores
one `Refusal` row (who, what, on which row, why), commits that row alone and
raises `PermissionDenied`. So a refused attempt changes nothing but the
audit, whichever entrypoint (web, API, CLI, a callback outcome) reached the
use case. It must be called inside the use case's ``async with uow:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, Protocol

from crm.enums import Role
from crm.identity import Identity, PermissionDenied

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

__all__ = ["Refusal", "RefusalRepository", "check_role", "refuse"]


@dataclass(frozen=True, slots=True)
class Refusal:
    at: datetime
    staff_id: int | None
    actor: str  # "staff:12", "anonymous", "followup-ivr", "cli:root"
    action: str  # "survey.verify", "complaint.verdict", "POST /api/campaigns"
    subject: str | None  # "survey:12"
    reason: str


class RefusalRepository(Protocol):
    async def add(self, refusal: Refusal) -> None: ...
    async def list(self, *, limit: int = 100) -> list[Refusal]: ...


async def refuse(
    uow: UnitOfWork, actor: Identity | None, action: str, subject: str | None, reason: str,
    at: datetime, *, actor_label: str | None = None,
) -> NoReturn:
    """Store the refusal (nothing else), then raise `PermissionDenied(reason)`."""
    await uow.rollback()
    await uow.refusals.add(Refusal(
        at=at, staff_id=actor.staff_id if actor else None,
        actor=actor_label or (actor.label if actor else "anonymous"),
        action=action[:80], subject=subject[:80] if subject else None, reason=reason,
    ))
    await uow.commit()
    raise PermissionDenied(reason)


async def check_role(
    uow: UnitOfWork, identity: Identity | None, roles: Sequence[Role], action: str,
    subject: str | None = None, at: datetime | None = None,
) -> None:
    """`identity` holds one of `roles` (admin passes; None is the trusted system), else
    `refuse`. Call it inside the use case's ``async with uow:``, before any write."""
    if identity is None or identity.has(*roles):
        return
    need = ", ".join(r.value for r in roles)
    await refuse(uow, identity, action, subject, f"this needs one of the roles: {need}",
                 at or datetime.now(UTC))
