"""imported accounts: legacy id and hash, import and welcome times; clients that get legacy_id

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('legacy_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('imported_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('welcomed_at', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('vhs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_login_config', sa.Text(), nullable=True))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('release_legacy_id', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('release_legacy_id')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('welcomed_at')
        batch_op.drop_column('imported_at')
        batch_op.drop_column('legacy_hash')
        batch_op.drop_column('legacy_id')
    with op.batch_alter_table('vhs', schema=None) as batch_op:
        batch_op.drop_column('legacy_login_config')
