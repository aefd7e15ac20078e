"""console roles, the last login of an account, the program's answer time

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('console_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('granted_at', sa.BigInteger(), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_console_roles_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_roles')),
    sa.UniqueConstraint('account_id', name=op.f('uq_console_roles_account_id'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_login_at', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('eligibility_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latency_ms', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('eligibility_checks', schema=None) as batch_op:
        batch_op.drop_column('latency_ms')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')

    op.drop_table('console_roles')
