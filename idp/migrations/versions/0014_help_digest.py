"""the administrators' daily digest of help requests (opt-out, language, when)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('console_roles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.add_column(sa.Column('digest_locale', sa.String(length=5), server_default='de',
                                      nullable=False))
        batch_op.add_column(sa.Column('digest_sent_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('digest_checked_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('console_roles', schema=None) as batch_op:
        batch_op.drop_column('digest_checked_at')
        batch_op.drop_column('digest_sent_at')
        batch_op.drop_column('digest_locale')
        batch_op.drop_column('digest')
