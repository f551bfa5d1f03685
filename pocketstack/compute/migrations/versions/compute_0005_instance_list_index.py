"""an index for the server list's default order (a project's live servers, newest first)

Revision ID: compute_0005
Revises: compute_0004
"""
from alembic import op


revision = 'compute_0005'
down_revision = 'compute_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_compute_instance_project_deleted_created', 'compute_instance',
                    ['project_id', 'deleted', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_compute_instance_project_deleted_created', 'compute_instance')
