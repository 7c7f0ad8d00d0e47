"""API tokens can expire (api_tokens.expires_at; NULL: never).

Revision ID: 0008_api_token_expiry
Revises: 0007_survey_pending_reason
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = '0008_api_token_expiry'
down_revision = '0007_survey_pending_reason'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_tokens', sa.Column('expires_at', callcenter.storage.types.UTCDateTime(timezone=True),
                                          nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
