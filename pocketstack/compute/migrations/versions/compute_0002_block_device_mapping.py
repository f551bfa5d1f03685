"""block device mappings (server volumes)

Revision ID: compute_0002
Revises: compute_0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'compute_0002'
down_revision = 'compute_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'compute_block_device_mapping',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('instance_uuid', sa.String(length=36), nullable=False),
        sa.Column('source_type', sa.String(length=32), nullable=False),
        sa.Column('destination_type', sa.String(length=32), nullable=False),
        sa.Column('device_name', sa.String(length=255), nullable=True),
        sa.Column('boot_index', sa.Integer(), nullable=True),
        sa.Column('volume_id', sa.String(length=36), nullable=True),
        sa.Column('snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('image_id', sa.String(length=36), nullable=True),
        sa.Column('volume_size', sa.Integer(), nullable=True),
        sa.Column('volume_type', sa.String(length=255), nullable=True),
        sa.Column('attachment_id', sa.String(length=36), nullable=True),
        sa.Column('delete_on_termination', sa.Boolean(), nullable=False),
        sa.Column('tag', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uuid'),
    )
    op.create_index('ix_compute_block_device_mapping_instance_uuid',
                    'compute_block_device_mapping', ['instance_uuid'], unique=False)
    op.create_index('ix_compute_block_device_mapping_volume_id',
                    'compute_block_device_mapping', ['volume_id'], unique=False)


def downgrade() -> None:
    op.drop_table('compute_block_device_mapping')
