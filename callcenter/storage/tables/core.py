"""Customers, their phones, departments, staff, service jobs, auth sessions and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base, Timestamps
from callcenter.storage.types import utcnow


class Department(Base, Timestamps):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", use_alter=True, name="fk_departments_manager_id_staff")
    )
    #: a supervision department (监察部): its supervisors keep no stake in the departments
    #: below it (`crm.access.scored_scope`)
    supervision: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class Staff(Base, Timestamps):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    extension: Mapped[str | None] = mapped_column(String(40))  # Asterisk queue member / Twilio client
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Customer(Base, Timestamps):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    value_grade: Mapped[str] = mapped_column(String(10), default="normal")
    vip_high_spend: Mapped[bool] = mapped_column(Boolean, default=False)
    vip_official: Mapped[bool] = mapped_column(Boolean, default=False)
    vip_public_figure: Mapped[bool] = mapped_column(Boolean, default=False)
    vip_journalist: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)  # False: created from an unknown caller
    preferences: Mapped[str | None] = mapped_column(Text)  # habits and preferences note
    equipment: Mapped[str | None] = mapped_column(Text)  # current equipment (004)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)


class CustomerPhone(Base):
    __tablename__ = "customer_phones"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: who put the number on this record, and their department then (None: an import, the
    #: caller's own call, the system); decides first-hand surveys (`crm.surveys.planted_numbers`)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    added_by_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))


class DoNotCall(Base):
    """Numbers that must never be dialled, whether or not they belong to a customer."""

    __tablename__ = "do_not_call"
    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceJob(Base, Timestamps):
    """A repair / service visit."""

    __tablename__ = "service_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(80), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(index=True)


class WebSession(Base):
    """A logged-in browser; the cookie holds the id, never the staff id."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """Bearer token for API clients; only its hash is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: never
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
