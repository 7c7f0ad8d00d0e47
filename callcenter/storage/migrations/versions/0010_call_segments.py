"""Call segments: one row per queue a call went through (per-queue KPIs count them).

Revision ID: 0010_call_segments
Revises: 0009_lead_capture
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0010_call_segments'
down_revision = '0009_lead_capture'
branch_labels = None
depends_on = None

_UTC = callcenter.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('call_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('queue', sa.String(length=80), nullable=False),
    sa.Column('entered_at', _UTC, nullable=False),
    sa.Column('answered_at', _UTC, nullable=True),
    sa.Column('ended_at', _UTC, nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['staff.id'], name=op.f('fk_call_segments_agent_id_staff')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_segments_call_id_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_segments')),
    sa.UniqueConstraint('call_id', 'queue', 'entered_at', name=op.f('uq_call_segments_call_id_queue_entered_at'))
    )
    op.create_index(op.f('ix_call_segments_call_id'), 'call_segments', ['call_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_call_segments_call_id'), table_name='call_segments')
    op.drop_table('call_segments')
