"""cursors.value as Text: a cursor with many overlap ids is longer than 200 characters

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:12:41.306118
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    with op.batch_alter_table('cursors', schema=None) as batch_op:
        batch_op.alter_column('value',
               existing_type=sa.String(length=200),
               type_=sa.Text(),
               existing_nullable=False)


def downgrade() -> None:
    
    cursors = sa.table('cursors', sa.column('flow_key', sa.String), sa.column('node_id', sa.String),
                       sa.column('value', sa.Text))
    conn = op.get_bind()
    long_rows = conn.execute(sa.select(cursors).where(sa.func.length(cursors.c.value) > 200)).all()
    for row in long_rows:
        # Keep only the JSON's "at" stamp (truncating would corrupt it): the next run re-reads the overlap's few
        # records, which the idempotency map then skips.
        conn.execute(cursors.update()
                     .where(cursors.c.flow_key == row.flow_key, cursors.c.node_id == row.node_id)
                     .values(value=str(json.loads(row.value)['at'])))
    with op.batch_alter_table('cursors', schema=None) as batch_op:
        batch_op.alter_column('value',
               existing_type=sa.Text(),
               type_=sa.String(length=200),
               existing_nullable=False)
