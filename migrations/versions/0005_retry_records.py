"""retry_records: records that failed on a transient error, retried by later runs of their flow

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-03 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retry_records",
        sa.Column("flow_key", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_run_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow_key", "node_id", "source_id", name=op.f("pk_retry_records")),
    )
    op.create_index("ix_retry_records_due", "retry_records", ["flow_key", "next_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_retry_records_due", table_name="retry_records")
    op.drop_table("retry_records")
