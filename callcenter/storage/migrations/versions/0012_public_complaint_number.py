"""Complaints: the number a public-form complaint gave, and when (by whom) it was confirmed.

Revision ID: 0012_public_complaint_number
Revises: 0011_supervision_departments
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0012_public_complaint_number'
down_revision = '0011_supervision_departments'
branch_labels = None
depends_on = None

_UTC = callcenter.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_number', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('number_confirmed_at', _UTC, nullable=True))
        batch_op.add_column(sa.Column('number_confirmed_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_complaints_number_confirmed_by_staff'), 'staff',
                                    ['number_confirmed_by'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_complaints_number_confirmed_by_staff'),
                                 type_='foreignkey')
        batch_op.drop_column('number_confirmed_by')
        batch_op.drop_column('number_confirmed_at')
        batch_op.drop_column('reported_number')
