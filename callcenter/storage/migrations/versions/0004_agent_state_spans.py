"""Agent states over time: the not-ready reason and one span per state.

Revision ID: 0004_agent_state_spans
Revises: 0003_complaint_causes
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0004_agent_state_spans'
down_revision = '0003_complaint_causes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=40), nullable=True))
    op.create_table('agent_state_spans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('carrier_call_id', sa.String(length=80), nullable=True),
    sa.Column('started_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_agent_state_spans_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_state_spans'))
    )
    op.create_index('ix_agent_state_spans_staff_open', 'agent_state_spans', ['staff_id', 'ended_at'])
    op.create_index('ix_agent_state_spans_started_at', 'agent_state_spans', ['started_at'])


def downgrade() -> None:
    op.drop_index('ix_agent_state_spans_started_at', table_name='agent_state_spans')
    op.drop_index('ix_agent_state_spans_staff_open', table_name='agent_state_spans')
    op.drop_table('agent_state_spans')
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_column('reason')
