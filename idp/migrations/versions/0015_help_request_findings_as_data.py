"""a help request's diagnosis kept as data (JSON findings), not as printed lines

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Each kept line "[ok]  text<TAB>advice" (or "[FAIL]", "[info]") becomes
{"ok": true|false|null, "text": ..., "advice": ...|null}. The schema does not change.
"""
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REQUESTS = sa.table('help_requests', sa.column('id', sa.Integer),
                    sa.column('diagnosis', sa.Text))
MARKS = {'[ok]': True, '[FAIL]': False, '[info]': None}


def _finding(line: str) -> dict:
    mark, _, rest = line.partition(']')
    text, _, advice = rest.strip().partition('\t')
    return {'ok': MARKS.get(mark + ']'), 'text': text.strip(), 'advice': advice.strip() or None}


def _line(finding: dict) -> str:
    mark = {True: '[ok]  ', False: '[FAIL]', None: '[info]'}[finding['ok']]
    advice = f"\t{finding['advice']}" if finding.get('advice') else ''
    return f"{mark} {finding['text']}{advice}"


def _convert(convert) -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.select(REQUESTS.c.id, REQUESTS.c.diagnosis)).all():
        connection.execute(REQUESTS.update().where(REQUESTS.c.id == row.id).values(
            diagnosis=convert(row.diagnosis or '')))


def upgrade() -> None:
    """Upgrade data."""
    _convert(lambda text: json.dumps(
        [_finding(line) for line in text.splitlines() if line.strip()], ensure_ascii=False))


def downgrade() -> None:
    """Downgrade data."""
    _convert(lambda text: '\n'.join(_line(finding) for finding in json.loads(text or '[]')))
