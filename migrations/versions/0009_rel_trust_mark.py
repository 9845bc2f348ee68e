"""target_trust.mark: the target's newest record as this database last knew it (a restored database notices)

Revision ID: 0009_rel
Revises: 0007
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009_rel'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('target_trust') as batch:
        batch.add_column(sa.Column('mark', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('target_trust') as batch:
        batch.drop_column('mark')
