"""one vocabulary of administrative acts: the console's acts under the command line's names

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

The console recorded "people disable" where the command line recorded "accounts disable";
"clients edit" is the other name of "clients set". Both now use one name (``idp.acts``).
The schema does not change.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

EVENTS = sa.table('audit_events', sa.column('kind', sa.String), sa.column('detail', sa.String),
                  sa.column('actor', sa.String))
CONSOLE = ('disable', 'enable', 'end-sessions', 'activation-mail', 'reset-mail', 'reset-mfa')


def _rename(old: str, new: str, *where) -> None:
    op.get_bind().execute(EVENTS.update().where(
        EVENTS.c.kind == 'admin', EVENTS.c.detail == old, *where).values(detail=new))


def upgrade() -> None:
    """Upgrade data."""
    for act in CONSOLE:
        _rename(f'people {act}', f'accounts {act}')
    _rename('clients edit', 'clients set')


def downgrade() -> None:
    """Downgrade data (the console's events by their actor; "clients edit" stays "set")."""
    for act in CONSOLE:
        _rename(f'accounts {act}', f'people {act}', EVENTS.c.actor.like('console:%'))
