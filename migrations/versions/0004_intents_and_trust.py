"""delivery intents and trusted targets (exactly-once without asking the application about every record)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'intents',
        sa.Column('flow_key', sa.String(length=200), nullable=False),
        sa.Column('node_id', sa.String(length=100), nullable=False),
        sa.Column('source_id', sa.String(length=200), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('flow_key', 'node_id', 'source_id', name=op.f('pk_intents')),
    )
    op.create_table(
        'target_trust',
        sa.Column('flow_key', sa.String(length=200), nullable=False),
        sa.Column('node_id', sa.String(length=100), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=True),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('flow_key', 'node_id', name=op.f('pk_target_trust')),
    )


def downgrade() -> None:
    op.drop_table('target_trust')
    op.drop_table('intents')
