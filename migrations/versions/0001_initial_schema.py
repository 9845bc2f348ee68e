"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 04:01:28.584887
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('connections',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('app', sa.String(length=50), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('secrets', sa.Text(), nullable=False),
    sa.Column('last_test_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_test_ok', sa.Boolean(), nullable=True),
    sa.Column('last_test_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_connections_name'))
    )
    op.create_table('credential_state',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('secrets', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_credential_state'))
    )
    op.create_table('cursors',
    sa.Column('flow_key', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('flow_key', 'node_id', name=op.f('pk_cursors'))
    )
    op.create_table('flows',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('template', sa.String(length=100), nullable=True),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('trigger', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('webhook_secret', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flows'))
    )
    op.create_table('idempotency',
    sa.Column('flow_key', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('flow_key', 'node_id', 'source_id', name=op.f('pk_idempotency'))
    )
    op.create_table('users',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('flow_versions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('fk_flow_versions_flow_id_flows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_versions')),
    sa.UniqueConstraint('flow_id', 'number', name=op.f('uq_flow_versions_flow_id'))
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=True),
    sa.Column('version_id', sa.String(length=32), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('read_count', sa.Integer(), nullable=False),
    sa.Column('ok_count', sa.Integer(), nullable=False),
    sa.Column('skipped_count', sa.Integer(), nullable=False),
    sa.Column('waiting_count', sa.Integer(), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('expected_count', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['flow_id'], ['flows.id'], name=op.f('fk_runs_flow_id_flows'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['flow_versions.id'], name=op.f('fk_runs_version_id_flow_versions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_created', ['created_at'], unique=False)
        batch_op.create_index('ix_runs_flow_created', ['flow_id', 'created_at'], unique=False)
        batch_op.create_index('ix_runs_status', ['status'], unique=False)

    op.create_table('log_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=True),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('record_key', sa.String(length=200), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_log_entries_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_entries'))
    )
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.create_index('ix_log_created', ['created_at'], unique=False)
        batch_op.create_index('ix_log_flow_status', ['flow_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_log_run_id', ['run_id', 'id'], unique=False)
        batch_op.create_index('ix_log_run_key', ['run_id', 'record_key'], unique=False)
        batch_op.create_index('ix_log_run_node', ['run_id', 'node_id', 'id'], unique=False)
        batch_op.create_index('ix_log_run_status', ['run_id', 'status', 'id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_log_run_status')
        batch_op.drop_index('ix_log_run_node')
        batch_op.drop_index('ix_log_run_key')
        batch_op.drop_index('ix_log_run_id')
        batch_op.drop_index('ix_log_flow_status')
        batch_op.drop_index('ix_log_created')

    op.drop_table('log_entries')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_status')
        batch_op.drop_index('ix_runs_flow_created')
        batch_op.drop_index('ix_runs_created')

    op.drop_table('runs')
    op.drop_table('flow_versions')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('idempotency')
    op.drop_table('flows')
    op.drop_table('cursors')
    op.drop_table('credential_state')
    op.drop_table('connections')
    
