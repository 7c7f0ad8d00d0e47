"""Departments: a supervision department (监察部) keeps no stake in the departments below it.

Revision ID: 0011_supervision_departments
Revises: 0010_call_segments
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_supervision_departments'
down_revision = '0010_call_segments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('departments', sa.Column('supervision', sa.Boolean(), nullable=False,
                                           server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_column('supervision')
