"""Access refusals: every refused attempt is stored (append-only, like survey_audit).

Revision ID: 0006_access_refusals
Revises: 0005_mail_deliveries
Create Date: 2026-12-04 16:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0006_access_refusals'
down_revision = '0005_mail_deliveries'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_refusals'))
    )
    with op.batch_alter_table('access_refusals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_refusals_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_refusals_staff_id'), ['staff_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'append-only table %: rows are never updated or deleted', "
            "TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER access_refusals_append_only BEFORE UPDATE OR DELETE ON access_refusals "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_refusals_no_{verb.lower()} BEFORE {verb} ON access_refusals "
                "BEGIN SELECT RAISE(ABORT, 'append-only table access_refusals: rows are never "
                "updated or deleted'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_refusals_append_only ON access_refusals")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS access_refusals_no_{verb}")
    with op.batch_alter_table('access_refusals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_refusals_staff_id'))
        batch_op.drop_index(batch_op.f('ix_access_refusals_at'))
    op.drop_table('access_refusals')
