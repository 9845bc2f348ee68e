"""automation webhook deliveries and fired slots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:14:19.852893
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('fired_slots',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('slot_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('info', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('fk_fired_slots_flow_id_flows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_fired_slots'))
    )
    with op.batch_alter_table('fired_slots', schema=None) as batch_op:
        batch_op.create_index('ix_fired_slots_flow_kind', ['flow_id', 'kind', 'slot_at'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=False),
    sa.Column('delivery_id', sa.String(length=100), nullable=False),
    sa.Column('topic', sa.String(length=60), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('fk_webhook_deliveries_flow_id_flows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('flow_id', 'delivery_id', name=op.f('uq_webhook_deliveries_flow_id'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_flow_status', ['flow_id', 'status'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_received', ['received_at'], unique=False)




def downgrade() -> None:
    
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_received')
        batch_op.drop_index('ix_webhook_deliveries_flow_status')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('fired_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_fired_slots_flow_kind')

    op.drop_table('fired_slots')

