"""Customer phones: who added a number (and their department then), for the first-hand rule.

Revision ID: 0013_phone_added_by
Revises: 0012_public_complaint_number
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_phone_added_by'
down_revision = '0012_public_complaint_number'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customer_phones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('added_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('added_by_department_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_customer_phones_added_by_staff'), 'staff',
                                    ['added_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_customer_phones_added_by_department_id_departments'),
                                    'departments', ['added_by_department_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('customer_phones', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_customer_phones_added_by_department_id_departments'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_customer_phones_added_by_staff'), type_='foreignkey')
        batch_op.drop_column('added_by_department_id')
        batch_op.drop_column('added_by')
