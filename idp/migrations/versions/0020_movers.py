"""movers: the address the Verwaltungsprogramm now has for an account's person, and since
when, until the person confirms it by the link mailed there

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

``idp.movers``: when the program no longer knows an account's address but still knows its
user (by the user id of an earlier answer) under another address, the account moves there
once the person follows the mailed link; the same ``sub``.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0020'
down_revision: Union[str, Sequence[str], None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts') as batch:  # ADD COLUMN: no copy of the table
        batch.add_column(sa.Column('moving_to', sa.String(length=320), nullable=True))
        batch.add_column(sa.Column('moving_since', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Downgrade schema (ALTER TABLE ... DROP COLUMN: a copy of ``accounts`` would cascade
    into every row that belongs to an account); open links to confirm a move go too."""
    op.execute("DELETE FROM account_tokens WHERE purpose = 'move'")
    for column in ('moving_to', 'moving_since'):
        op.execute(f'ALTER TABLE accounts DROP COLUMN {column}')
