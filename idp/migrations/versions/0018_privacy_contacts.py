"""a VHS may enter its own controller and data protection officer

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

The record of processing and the privacy notice name them; without them the installation's
IDP_PRIVACY_CONTROLLER and IDP_PRIVACY_DPO apply.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0018'
down_revision: Union[str, Sequence[str], None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('vhs') as batch:
        batch.add_column(sa.Column('privacy_controller', sa.Text(), nullable=True))
        batch.add_column(sa.Column('privacy_dpo', sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema: ALTER TABLE ... DROP COLUMN, also on SQLite (3.35 and later). A
    batch would copy the table ``vhs`` and drop the old one, and with it, by ON DELETE
    CASCADE, every row that belongs to a VHS."""
    for column in ('privacy_dpo', 'privacy_controller'):
        op.execute(f'ALTER TABLE vhs DROP COLUMN {column}')
