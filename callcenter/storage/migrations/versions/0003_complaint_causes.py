"""Complaint loops: respond-by escalation, passed-around / disrespect / group causes.

complaints gain acknowledged_at, respond_escalated_at, disrespected, product,
site and group_id; complaint_escalations gain the cause of each level
(respond | resolve); complaint_groups hold the group complaints.

Revision ID: 0003_complaint_causes
Revises: 0002_supervision_versions
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0003_complaint_causes'
down_revision = '0002_supervision_versions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=220), nullable=False),
    sa.Column('raised_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_groups'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('respond_escalated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('disrespected', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('product', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('site', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('group_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_product'), ['product'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_site'), ['site'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_group_id'), ['group_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_complaints_group_id_complaint_groups'), 'complaint_groups', ['group_id'], ['id'])
    # acknowledged: complaints a person already started (the respond-by level no longer applies)
    op.execute("UPDATE complaints SET acknowledged_at = first_response_at WHERE first_response_at IS NOT NULL")
    with op.batch_alter_table('complaint_escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cause', sa.String(length=10), nullable=False, server_default='resolve'))


def downgrade() -> None:
    with op.batch_alter_table('complaint_escalations', schema=None) as batch_op:
        batch_op.drop_column('cause')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_complaints_group_id_complaint_groups'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_complaints_group_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_site'))
        batch_op.drop_index(batch_op.f('ix_complaints_product'))
        for column in ('group_id', 'site', 'product', 'disrespected', 'respond_escalated_at', 'acknowledged_at'):
            batch_op.drop_column(column)
    op.drop_table('complaint_groups')
