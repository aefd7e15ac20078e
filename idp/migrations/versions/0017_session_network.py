"""a session keeps the network it started from, shortened ("192.0.2.0/24")

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

"Meine Daten" shows each session with its device and where it started; the full address is
never kept with the session (the audit keeps it for IDP_AUDIT_IP_DAYS).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('sso_sessions') as batch:
        batch.add_column(sa.Column('ip', sa.String(length=50), nullable=True))


def downgrade() -> None:
    """Downgrade schema (ALTER TABLE ... DROP COLUMN, also on SQLite 3.35 and later: no
    copy of the table)."""
    op.execute('ALTER TABLE sso_sessions DROP COLUMN ip')
