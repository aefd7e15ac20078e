"""shared signals: each service's event stream (SSF 1.0), the subjects it removed, and the
Security Event Tokens waiting for it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

``idp.signals`` transmits CAEP and RISC events to the services that hold tokens for a
person, by push (RFC 8935) or poll (RFC 8936).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0021'
down_revision: Union[str, Sequence[str], None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'ssf_streams',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stream_id', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.String(length=100), nullable=False),
        sa.Column('method', sa.String(length=20), nullable=False),
        sa.Column('endpoint_url', sa.Text(), nullable=True),
        sa.Column('authorization_header', sa.Text(), nullable=True),
        sa.Column('events_requested', sa.JSON(), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('verified_at', sa.BigInteger(), nullable=True),
        sa.Column('lease_until', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('client_id'),
        sa.UniqueConstraint('stream_id'),
    )
    op.create_table(
        'ssf_removed_subjects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stream_pk', sa.Integer(), nullable=False),
        sa.Column('sub', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['stream_pk'], ['ssf_streams.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('stream_pk', 'sub'),
    )
    op.create_table(
        'ssf_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stream_pk', sa.Integer(), nullable=False),
        sa.Column('jti', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=True),
        sa.Column('claims', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
        sa.Column('lease_until', sa.BigInteger(), nullable=True),
        sa.Column('delivered_at', sa.BigInteger(), nullable=True),
        sa.Column('failed_at', sa.BigInteger(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['stream_pk'], ['ssf_streams.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('jti'),
    )
    op.create_index(op.f('ix_ssf_events_stream_pk_delivered_at_failed_at_id'), 'ssf_events',
                    ['stream_pk', 'delivered_at', 'failed_at', 'id'], unique=False)
    op.create_index(op.f('ix_ssf_events_subject'), 'ssf_events', ['subject'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('ssf_events')
    op.drop_table('ssf_removed_subjects')
    op.drop_table('ssf_streams')
