"""Mail deliveries: every report and escalation notice sent by e-mail, once per key.

Revision ID: 0005_mail_deliveries
Revises: 0004_agent_state_spans
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0005_mail_deliveries'
down_revision = '0004_agent_state_spans'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_deliveries')),
    sa.UniqueConstraint('key', name=op.f('uq_mail_deliveries_key'))
    )


def downgrade() -> None:
    op.drop_table('mail_deliveries')
