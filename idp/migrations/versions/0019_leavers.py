"""leavers: since when the program says no, how often, when the account was closed, when
it was warned of its closing for inactivity, an administrator's exception ("Zugang
behalten"); the program's user id of the last answer; which worker runs a VHS's lifecycle
pass

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

``idp.leavers`` marks an account whose VHS's program answers "no" as leaving, closes it as
"ausgeschieden" (status ``left``) after IDP_LEAVER_GRACE_DAYS and deletes it
IDP_LEAVER_DELETE_DAYS later.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: Union[str, Sequence[str], None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ('leaving_since', 'no_answers', 'left_at', 'inactivity_warned_at', 'keep_until',
           'keep_reason')


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts') as batch:  # ADD COLUMN: no copy of the table
        batch.add_column(sa.Column('leaving_since', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('no_answers', sa.Integer(), server_default='0',
                                   nullable=False))
        batch.add_column(sa.Column('left_at', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('inactivity_warned_at', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('keep_until', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('keep_reason', sa.String(length=200), nullable=True))
    with op.batch_alter_table('eligibility_checks') as batch:
        batch.add_column(sa.Column('program_user_id', sa.String(length=200), nullable=True))
    op.create_table(
        'lifecycle_leases',
        sa.Column('vhs_id', sa.Integer(), nullable=False),
        sa.Column('lease_until', sa.BigInteger(), nullable=False),
        sa.Column('holder', sa.String(length=100), nullable=True),
        sa.Column('last_pass_at', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['vhs_id'], ['vhs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('vhs_id'),
    )


def downgrade() -> None:
    """Downgrade schema (ALTER TABLE ... DROP COLUMN, also on SQLite 3.35 and later: a copy
    of ``accounts`` would cascade into every row that belongs to an account)."""
    op.drop_table('lifecycle_leases')
    op.execute('ALTER TABLE eligibility_checks DROP COLUMN program_user_id')
    op.execute("UPDATE accounts SET status = 'disabled' WHERE status = 'left'")
    for column in COLUMNS:
        op.execute(f'ALTER TABLE accounts DROP COLUMN {column}')
