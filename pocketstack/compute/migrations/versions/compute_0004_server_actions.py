"""instance system_metadata (shelve, rescue), quota classes, per-user quotas

Revision ID: compute_0004
Revises: compute_0003
"""
from alembic import op
import sqlalchemy as sa

from pocketstack.db import JSONText


revision = 'compute_0004'
down_revision = 'compute_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('compute_instance') as batch:
        batch.add_column(sa.Column('system_metadata', JSONText(), nullable=True))
    op.create_table(
        'compute_quota_class',
        sa.Column('class_name', sa.String(length=255), nullable=False),
        sa.Column('resource', sa.String(length=255), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('class_name', 'resource'),
    )
    op.create_table(
        'compute_project_user_quota',
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('resource', sa.String(length=255), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'user_id', 'resource'),
    )


def downgrade() -> None:
    op.drop_table('compute_project_user_quota')
    op.drop_table('compute_quota_class')
    with op.batch_alter_table('compute_instance') as batch:
        batch.drop_column('system_metadata')
