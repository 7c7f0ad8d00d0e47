"""Complaints: the service job a complaint is charged through (its department and technician).

A complaint naming no job is charged through the customer's last job in the window
(`crm.complaint_rules` Rule 5); one naming a job, through that job, so the existing rows
get their own job.

Revision ID: 0014_complaint_charged_job
Revises: 0013_phone_added_by
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_complaint_charged_job'
down_revision = '0013_phone_added_by'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charged_job_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_charged_job_id'), ['charged_job_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_complaints_charged_job_id_service_jobs'),
                                    'service_jobs', ['charged_job_id'], ['id'])
    op.execute("UPDATE complaints SET charged_job_id = job_id WHERE job_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_complaints_charged_job_id_service_jobs'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_complaints_charged_job_id'))
        batch_op.drop_column('charged_job_id')
