"""Lead capture (004): the signed configuration proposal, the finder's credit, follow-ups.

leads gain the proposal (text, by, at, signed by, signed at), the order value,
the credit amount and when it was paid, and the follow-up date last reminded;
lead_follow_ups records every follow-up against the date it was due.

Revision ID: 0009_lead_capture
Revises: 0008_api_token_expiry
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0009_lead_capture'
down_revision = '0008_api_token_expiry'
branch_labels = None
depends_on = None

_UTC = callcenter.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposal', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('proposal_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proposal_at', _UTC, nullable=True))
        batch_op.add_column(sa.Column('proposal_signed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proposal_signed_at', _UTC, nullable=True))
        batch_op.add_column(sa.Column('order_value', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('credit_amount', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('credit_paid_at', _UTC, nullable=True))
        batch_op.add_column(sa.Column('reminded_for', _UTC, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_leads_proposal_by_id_staff'), 'staff', ['proposal_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_leads_proposal_signed_by_id_staff'), 'staff', ['proposal_signed_by_id'], ['id'])
    op.create_table('lead_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('due_at', _UTC, nullable=True),
    sa.Column('done_at', _UTC, nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_follow_ups_lead_id_leads')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_lead_follow_ups_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_follow_ups'))
    )
    with op.batch_alter_table('lead_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_follow_ups_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_follow_ups_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_follow_ups_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_follow_ups_done_at'), ['done_at'], unique=False)


def downgrade() -> None:
    op.drop_table('lead_follow_ups')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_leads_proposal_signed_by_id_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_leads_proposal_by_id_staff'), type_='foreignkey')
        for column in ('reminded_for', 'credit_paid_at', 'credit_amount', 'order_value', 'proposal_signed_at',
                       'proposal_signed_by_id', 'proposal_at', 'proposal_by_id', 'proposal'):
            batch_op.drop_column(column)
