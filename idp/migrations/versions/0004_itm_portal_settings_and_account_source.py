"""itm portal settings and account source

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=10), server_default='local', nullable=False))

    with op.batch_alter_table('vhs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_config', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('portal_changed_at', sa.BigInteger(), nullable=True))



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('vhs', schema=None) as batch_op:
        batch_op.drop_column('portal_changed_at')
        batch_op.drop_column('portal_config')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('source')

