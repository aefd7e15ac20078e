"""adapters eligibility kma directory

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('directory_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vhs_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=400), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('released', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['vhs_id'], ['vhs.id'], name=op.f('fk_directory_entries_vhs_id_vhs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_entries'))
    )
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_entries_vhs_id_address'), ['vhs_id', 'address'], unique=False)

    op.create_table('eligibility_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vhs_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('checked_at', sa.BigInteger(), nullable=False),
    sa.Column('last_eligible_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['vhs_id'], ['vhs.id'], name=op.f('fk_eligibility_checks_vhs_id_vhs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_checks')),
    sa.UniqueConstraint('vhs_id', 'address', name=op.f('uq_eligibility_checks_vhs_id_address'))
    )
    op.create_table('kma_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vhs_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['vhs_id'], ['vhs.id'], name=op.f('fk_kma_links_vhs_id_vhs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kma_links')),
    sa.UniqueConstraint('vhs_id', 'address', name=op.f('uq_kma_links_vhs_id_address'))
    )
    with op.batch_alter_table('vhs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adapter', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('adapter_config', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('adapter_changed_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('directory_token_hash', sa.String(length=64), nullable=True))



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('vhs', schema=None) as batch_op:
        batch_op.drop_column('directory_token_hash')
        batch_op.drop_column('adapter_changed_at')
        batch_op.drop_column('adapter_config')
        batch_op.drop_column('adapter')

    op.drop_table('kma_links')
    op.drop_table('eligibility_checks')
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_entries_vhs_id_address'))

    op.drop_table('directory_entries')
