"""help requests ("Meine VHS um Hilfe bitten")

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'help_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('vhs_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('diagnosis', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('needs_item', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('checks', sa.Integer(), nullable=False),
        sa.Column('last_checked_at', sa.BigInteger(), nullable=True),
        sa.Column('next_check_at', sa.BigInteger(), nullable=True),
        sa.Column('closed_at', sa.BigInteger(), nullable=True),
        sa.Column('closed_by', sa.String(length=100), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['vhs_id'], ['vhs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_help_requests_vhs_id_state'), 'help_requests', ['vhs_id', 'state'],
                    unique=False)
    op.create_index(op.f('ix_help_requests_state_next_check_at'), 'help_requests',
                    ['state', 'next_check_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_help_requests_state_next_check_at'), table_name='help_requests')
    op.drop_index(op.f('ix_help_requests_vhs_id_state'), table_name='help_requests')
    op.drop_table('help_requests')
