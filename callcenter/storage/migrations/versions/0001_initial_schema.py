"""Initial schema: customers, staff, jobs, calls, surveys, complaints, callbacks, leads.

Complaint history and survey audit are append-only: triggers on both engines
refuse UPDATE and DELETE of their rows.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 11:15:21.469181
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('flow', sa.String(length=40), nullable=False),
    sa.Column('window_start', sa.String(length=5), nullable=False),
    sa.Column('window_end', sa.String(length=5), nullable=False),
    sa.Column('max_concurrent', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('name', name=op.f('uq_campaigns_name'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['departments.id'], name=op.f('fk_departments_parent_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    op.create_table('do_not_call',
    sa.Column('e164', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('added_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('e164', name=op.f('pk_do_not_call'))
    )
    op.create_table('job_locks',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('holder', sa.String(length=80), nullable=True),
    sa.Column('lease_until', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_locks'))
    )
    op.create_table('rate_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_events'))
    )
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rate_events_key'), ['key'], unique=False)

    op.create_table('report_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('generated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('generated_by', sa.String(length=80), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs')),
    sa.UniqueConstraint('kind', 'period', 'scope', name=op.f('uq_report_runs_kind_period_scope'))
    )
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('value_grade', sa.String(length=10), nullable=False),
    sa.Column('vip_high_spend', sa.Boolean(), nullable=False),
    sa.Column('vip_official', sa.Boolean(), nullable=False),
    sa.Column('vip_public_figure', sa.Boolean(), nullable=False),
    sa.Column('vip_journalist', sa.Boolean(), nullable=False),
    sa.Column('do_not_call', sa.Boolean(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('preferences', sa.Text(), nullable=True),
    sa.Column('equipment', sa.Text(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_customers_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('reference', name=op.f('uq_customers_reference'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_department_id'), ['department_id'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('extension', sa.String(length=40), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_staff_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_department_id'), ['department_id'], unique=False)

    with op.batch_alter_table('departments') as batch_op:
        batch_op.create_foreign_key('fk_departments_manager_id_staff', 'staff', ['manager_id'], ['id'])
    op.create_table('agent_states',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('current_offer', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_agent_states_staff_id_staff')),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_agent_states'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_api_tokens_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_staff_id'), ['staff_id'], unique=False)

    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('carrier', sa.String(length=16), nullable=False),
    sa.Column('carrier_call_id', sa.String(length=80), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('from_number', sa.String(length=40), nullable=True),
    sa.Column('to_number', sa.String(length=40), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('queue', sa.String(length=80), nullable=True),
    sa.Column('started_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('queued_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disposition', sa.String(length=20), nullable=False),
    sa.Column('carrier_status', sa.String(length=20), nullable=True),
    sa.Column('status_rank', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('hold_s', sa.Float(), nullable=False),
    sa.Column('wrapup_s', sa.Float(), nullable=False),
    sa.Column('ivr_path', sa.Text(), nullable=True),
    sa.Column('ivr_state', sa.Text(), nullable=True),
    sa.Column('ivr_version', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('recording_url', sa.Text(), nullable=True),
    sa.Column('callback_attempt_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['staff.id'], name=op.f('fk_calls_agent_id_staff')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_calls_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('carrier', 'carrier_call_id', name=op.f('uq_calls_carrier_carrier_call_id'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_callback_attempt_id'), ['callback_attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_disposition'), ['disposition'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_started_at'), ['started_at'], unique=False)

    op.create_table('customer_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('e164', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=True),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_phones_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_phones')),
    sa.UniqueConstraint('e164', name=op.f('uq_customer_phones_e164'))
    )
    with op.batch_alter_table('customer_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_phones_customer_id'), ['customer_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('read_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_notifications_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_staff_id'), ['staff_id'], unique=False)

    op.create_table('service_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('completed_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_service_jobs_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_service_jobs_department_id_departments')),
    sa.ForeignKeyConstraint(['technician_id'], ['staff.id'], name=op.f('fk_service_jobs_technician_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_jobs')),
    sa.UniqueConstraint('reference', name=op.f('uq_service_jobs_reference'))
    )
    with op.batch_alter_table('service_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_jobs_completed_at'), ['completed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_jobs_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_jobs_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_jobs_technician_id'), ['technician_id'], unique=False)

    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_web_sessions_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_staff_id'), ['staff_id'], unique=False)

    op.create_table('call_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('node', sa.String(length=80), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_events_call_id_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_events')),
    sa.UniqueConstraint('call_id', 'dedupe_key', name=op.f('uq_call_events_call_id_dedupe_key'))
    )
    with op.batch_alter_table('call_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_events_call_id'), ['call_id'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('recording_url', sa.Text(), nullable=True),
    sa.Column('compensation_claimed', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('major_reasons', sa.JSON(), nullable=False),
    sa.Column('emotional', sa.Boolean(), nullable=False),
    sa.Column('contradictory_answers', sa.Boolean(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('opened_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('respond_due_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolve_due_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_escalated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_complaints_call_id_calls')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_complaints_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_complaints_department_id_departments')),
    sa.ForeignKeyConstraint(['job_id'], ['service_jobs.id'], name=op.f('fk_complaints_job_id_service_jobs')),
    sa.ForeignKeyConstraint(['owner_id'], ['staff.id'], name=op.f('fk_complaints_owner_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('ticket', name=op.f('uq_complaints_ticket'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_resolve_due_at'), ['resolve_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_severity'), ['severity'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_state'), ['state'], unique=False)

    op.create_table('surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('surveyed_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('timeliness', sa.String(length=1), nullable=True),
    sa.Column('quality', sa.String(length=1), nullable=True),
    sa.Column('attitude', sa.String(length=1), nullable=True),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('verification', sa.String(length=12), nullable=False),
    sa.Column('verified_by', sa.Integer(), nullable=True),
    sa.Column('verified_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('entered_by', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_surveys_call_id_calls')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_surveys_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_surveys_department_id_departments')),
    sa.ForeignKeyConstraint(['entered_by'], ['staff.id'], name=op.f('fk_surveys_entered_by_staff')),
    sa.ForeignKeyConstraint(['job_id'], ['service_jobs.id'], name=op.f('fk_surveys_job_id_service_jobs')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_surveys_staff_id_staff')),
    sa.ForeignKeyConstraint(['verified_by'], ['staff.id'], name=op.f('fk_surveys_verified_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys'))
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_surveys_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_surveyed_at'), ['surveyed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_verification'), ['verification'], unique=False)

    op.create_table('callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('due_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_start', sa.String(length=5), nullable=False),
    sa.Column('window_end', sa.String(length=5), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('survey_id', sa.Integer(), nullable=True),
    sa.Column('requested_call_id', sa.Integer(), nullable=True),
    sa.Column('assigned_staff_id', sa.Integer(), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claim_expires_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_attempt_id', sa.String(length=40), nullable=True),
    sa.Column('disposition', sa.String(length=40), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('completed_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_staff_id'], ['staff.id'], name=op.f('fk_callbacks_assigned_staff_id_staff')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_callbacks_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_callbacks_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_callbacks_customer_id_customers')),
    sa.ForeignKeyConstraint(['job_id'], ['service_jobs.id'], name=op.f('fk_callbacks_job_id_service_jobs')),
    sa.ForeignKeyConstraint(['requested_call_id'], ['calls.id'], name=op.f('fk_callbacks_requested_call_id_calls')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_callbacks_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks')),
    sa.UniqueConstraint('source_key', name=op.f('uq_callbacks_source_key'))
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callbacks_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_claim_expires_at'), ['claim_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_deadline_at'), ['deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_state'), ['state'], unique=False)

    op.create_table('complaint_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('state_then', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_escalations_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_complaint_escalations_department_id_departments')),
    sa.ForeignKeyConstraint(['manager_id'], ['staff.id'], name=op.f('fk_complaint_escalations_manager_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_escalations')),
    sa.UniqueConstraint('complaint_id', 'level', name=op.f('uq_complaint_escalations_complaint_id_level'))
    )
    with op.batch_alter_table('complaint_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_escalations_complaint_id'), ['complaint_id'], unique=False)

    op.create_table('complaint_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('from_state', sa.String(length=12), nullable=True),
    sa.Column('to_state', sa.String(length=12), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_complaint_history_actor_id_staff')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_history_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_history'))
    )
    with op.batch_alter_table('complaint_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_history_complaint_id'), ['complaint_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=80), nullable=True),
    sa.Column('disposition', sa.String(length=40), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_contacts_call_id_calls')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_contacts_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_contacts_customer_id_customers')),
    sa.ForeignKeyConstraint(['job_id'], ['service_jobs.id'], name=op.f('fk_contacts_job_id_service_jobs')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_contacts_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_customer_id'), ['customer_id'], unique=False)

    op.create_table('spool_imports',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('imported_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_spool_imports_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_spool_imports'))
    )
    op.create_table('survey_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_survey_audit_actor_id_staff')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_audit_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_audit'))
    )
    with op.batch_alter_table('survey_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_audit_survey_id'), ['survey_id'], unique=False)

    op.create_table('callback_attempts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('callback_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=False),
    sa.Column('carrier', sa.String(length=16), nullable=False),
    sa.Column('carrier_call_id', sa.String(length=80), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('ended_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['callback_id'], ['callbacks.id'], name=op.f('fk_callback_attempts_callback_id_callbacks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_callback_id'), ['callback_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_attempts_carrier_call_id'), ['carrier_call_id'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('found_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('equipment', sa.Text(), nullable=True),
    sa.Column('need', sa.Text(), nullable=False),
    sa.Column('demand_level', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('follow_up_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('won_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callcenter.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['staff.id'], name=op.f('fk_leads_assigned_to_id_staff')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_leads_contact_id_contacts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_leads_customer_id_customers')),
    sa.ForeignKeyConstraint(['found_by_id'], ['staff.id'], name=op.f('fk_leads_found_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_assigned_to_id'), ['assigned_to_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_found_by_id'), ['found_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_state'), ['state'], unique=False)
    _append_only('complaint_history')
    _append_only('survey_audit')


def downgrade() -> None:
    _drop_append_only('survey_audit')
    _drop_append_only('complaint_history')
    with op.batch_alter_table('departments') as batch_op:
        batch_op.drop_constraint('fk_departments_manager_id_staff', type_='foreignkey')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_state'))
        batch_op.drop_index(batch_op.f('ix_leads_found_by_id'))
        batch_op.drop_index(batch_op.f('ix_leads_customer_id'))
        batch_op.drop_index(batch_op.f('ix_leads_assigned_to_id'))

    op.drop_table('leads')
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_attempts_carrier_call_id'))
        batch_op.drop_index(batch_op.f('ix_callback_attempts_callback_id'))

    op.drop_table('callback_attempts')
    with op.batch_alter_table('survey_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_audit_survey_id'))

    op.drop_table('survey_audit')
    op.drop_table('spool_imports')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_customer_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_call_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_at'))

    op.drop_table('contacts')
    with op.batch_alter_table('complaint_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_history_complaint_id'))

    op.drop_table('complaint_history')
    with op.batch_alter_table('complaint_escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_escalations_complaint_id'))

    op.drop_table('complaint_escalations')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callbacks_state'))
        batch_op.drop_index(batch_op.f('ix_callbacks_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_callbacks_kind'))
        batch_op.drop_index(batch_op.f('ix_callbacks_due_at'))
        batch_op.drop_index(batch_op.f('ix_callbacks_deadline_at'))
        batch_op.drop_index(batch_op.f('ix_callbacks_customer_id'))
        batch_op.drop_index(batch_op.f('ix_callbacks_claim_expires_at'))
        batch_op.drop_index(batch_op.f('ix_callbacks_campaign_id'))

    op.drop_table('callbacks')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_verification'))
        batch_op.drop_index(batch_op.f('ix_surveys_surveyed_at'))
        batch_op.drop_index(batch_op.f('ix_surveys_staff_id'))
        batch_op.drop_index(batch_op.f('ix_surveys_job_id'))
        batch_op.drop_index(batch_op.f('ix_surveys_department_id'))
        batch_op.drop_index(batch_op.f('ix_surveys_customer_id'))

    op.drop_table('surveys')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_state'))
        batch_op.drop_index(batch_op.f('ix_complaints_severity'))
        batch_op.drop_index(batch_op.f('ix_complaints_resolve_due_at'))
        batch_op.drop_index(batch_op.f('ix_complaints_owner_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_opened_at'))
        batch_op.drop_index(batch_op.f('ix_complaints_department_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_customer_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_category'))

    op.drop_table('complaints')
    with op.batch_alter_table('call_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_events_call_id'))

    op.drop_table('call_events')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_staff_id'))

    op.drop_table('web_sessions')
    with op.batch_alter_table('service_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_jobs_technician_id'))
        batch_op.drop_index(batch_op.f('ix_service_jobs_department_id'))
        batch_op.drop_index(batch_op.f('ix_service_jobs_customer_id'))
        batch_op.drop_index(batch_op.f('ix_service_jobs_completed_at'))

    op.drop_table('service_jobs')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_staff_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('customer_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_phones_customer_id'))

    op.drop_table('customer_phones')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_started_at'))
        batch_op.drop_index(batch_op.f('ix_calls_disposition'))
        batch_op.drop_index(batch_op.f('ix_calls_customer_id'))
        batch_op.drop_index(batch_op.f('ix_calls_callback_attempt_id'))
        batch_op.drop_index(batch_op.f('ix_calls_agent_id'))

    op.drop_table('calls')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_staff_id'))

    op.drop_table('api_tokens')
    op.drop_table('agent_states')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_department_id'))

    op.drop_table('staff')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_department_id'))

    op.drop_table('customers')
    op.drop_table('report_runs')
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_events_key'))
        batch_op.drop_index(batch_op.f('ix_rate_events_at'))

    op.drop_table('rate_events')
    op.drop_table('job_locks')
    op.drop_table('do_not_call')
    op.drop_table('departments')
    op.drop_table('campaigns')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS refuse_change()')


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on `table`: history is written once, never edited."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'append-only table %: rows are never updated or deleted', "
            "TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: rows are never "
                "updated or deleted'); END"
            )


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
