"""scoreboard summary: each task's queue age in whole microseconds, so the scoreboard counts in SQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Summary rows filled per statement: bounded memory whatever the size of the table.
BATCH = 10_000

_facts = sa.table(
    "task_facts",
    sa.column("task_id", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("first_claim_at", sa.DateTime(timezone=True)),
    sa.column("first_resolved_at", sa.DateTime(timezone=True)),
    sa.column("queue_age_us", sa.BigInteger()),
)


def _age_us(created: datetime, claim: datetime | None, resolved: datetime | None) -> int | None:
    # As careroute.metrics.TaskFacts.taken_up_at: the first claim, or the first resolution if it came first.
    taken = resolved if claim is None else claim if resolved is None or claim <= resolved else resolved
    return None if taken is None else (taken - created) // timedelta(microseconds=1)


def upgrade() -> None:
    with op.batch_alter_table("task_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue_age_us", sa.BigInteger(), nullable=True))
    # Rows folded before this revision: their age, computed in Python from the stored times (exact to the
    # microsecond on both databases, as the dispatcher computes it for new rows).
    conn = op.get_bind()
    c = _facts.c
    fill = (
        sa.update(_facts).where(c.task_id == sa.bindparam("tid")).values(queue_age_us=sa.bindparam("age"))
    )
    after = -1
    while True:
        rows = conn.execute(
            sa.select(c.task_id, c.created_at, c.first_claim_at, c.first_resolved_at)
            .where(c.task_id > after, c.first_claim_at.is_not(None) | c.first_resolved_at.is_not(None))
            .order_by(c.task_id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(fill, [{"tid": r[0], "age": _age_us(r[1], r[2], r[3])} for r in rows])
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("task_facts", schema=None) as batch_op:
        batch_op.drop_column("queue_age_us")
