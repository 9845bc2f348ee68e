"""log_entries.record_id: the record read that an entry belongs to, so the run log lists one row per record

A record that reaches two targets (an order booked as a sales invoice and credited for its refund) leaves entries
with different source ids (the credit's is derived from the order's); the run page groups them by this id. Entries
written before it have none and are grouped by their source id.

Revision ID: 0010_rows
Revises: 0009_rel
Create Date: 2026-12-03 14:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010_rows'
down_revision = '0009_rel'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_id', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_log_run_record', ['run_id', 'record_id'])


def downgrade() -> None:
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_log_run_record')
        batch_op.drop_column('record_id')
