"""Surveys: why one waits for verification (pending_reason).

Revision ID: 0007_survey_pending_reason
Revises: 0006_access_refusals
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_survey_pending_reason'
down_revision = '0006_access_refusals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('surveys', sa.Column('pending_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('pending_reason')
