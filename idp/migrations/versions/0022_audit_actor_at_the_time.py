"""audit actor at the time: the name, role and VHS of whoever acted, stored with the event,
so that a later change of role, address or account never changes its meaning

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06

Existing events get what can still be known: a command's actor is the command line; a
console actor's name and VHS are taken from the account as it is now, and the role is left
empty: the console says "(Rolle damals nicht gespeichert)".
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0022'
down_revision: Union[str, Sequence[str], None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ('actor_name', 'actor_role', 'actor_vhs')


def upgrade() -> None:
    """Upgrade schema, and fill in what can be known."""
    with op.batch_alter_table('audit_events') as batch:  # ADD COLUMN: no copy of the table
        batch.add_column(sa.Column('actor_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('actor_role', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('actor_vhs', sa.String(length=200), nullable=True))
    bind = op.get_bind()
    events = sa.table('audit_events', sa.column('actor', sa.String),
                      sa.column('actor_name', sa.String), sa.column('actor_role', sa.String),
                      sa.column('actor_vhs', sa.String))
    actors = [row[0] for row in bind.execute(sa.select(events.c.actor).distinct().where(
        events.c.actor.is_not(None)))]
    for actor in actors:
        if actor.startswith('cli:'):
            values = {'actor_name': actor[4:][:200], 'actor_role': 'cli'}
        elif actor.startswith('console:'):
            slug, _, address = actor[len('console:'):].partition('/')
            found = bind.execute(sa.text(
                'SELECT accounts.display_name, vhs.name FROM accounts JOIN vhs ON '
                'vhs.id = accounts.vhs_id WHERE vhs.slug = :slug AND accounts.address = '
                ':address'), {'slug': slug, 'address': address}).first()
            name = (found[0] if found and found[0] else address)[:200]
            place = bind.execute(sa.text('SELECT name FROM vhs WHERE slug = :slug'),
                                 {'slug': slug}).scalar()
            values = {'actor_name': name, 'actor_vhs': (place or slug)[:200]}
        else:
            continue
        bind.execute(events.update().where(events.c.actor == actor).values(**values))


def downgrade() -> None:
    """Downgrade schema (ALTER TABLE ... DROP COLUMN)."""
    for column in COLUMNS:
        op.execute(f'ALTER TABLE audit_events DROP COLUMN {column}')
