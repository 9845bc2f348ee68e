"""created_records: what Koppel created in each application and from which source record (the echo guard)

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-03 08:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'created_records',
        sa.Column('app', sa.String(length=40), nullable=False),
        sa.Column('scope', sa.String(length=300), nullable=False),
        sa.Column('record_id', sa.String(length=200), nullable=False),
        sa.Column('source_app', sa.String(length=40), nullable=False),
        sa.Column('source_id', sa.String(length=200), nullable=False),
        sa.Column('source_key', sa.String(length=200), nullable=False),
        sa.Column('flow_key', sa.String(length=200), nullable=False),
        sa.Column('flow_name', sa.String(length=200), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('app', 'scope', 'record_id', name=op.f('pk_created_records')),
    )


def downgrade() -> None:
    op.drop_table('created_records')
