"""Reminder attempts: `proactive_reminders.attempts` counts the claims of a reminder (bot/proactive/reminders.py).

A claim is a lease: a reminder whose worker died after claiming it is claimed again once the lease is over,
and one whose deliveries keep failing is marked failed after a bounded number of attempts; this column
counts them. Existing rows start at 0. A table created by the reminder store's own `create_all` after this
column existed already has it (a database made before migrations is stamped at the baseline, then upgraded):
then there is nothing to add.

Revision ID: 0002_reminder_attempts
Revises: 0001_baseline
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_reminder_attempts"
down_revision: str | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "proactive_reminders"
COLUMN = "attempts"


def _has_column() -> bool:
    inspector = sa.inspect(op.get_bind())
    return COLUMN in {c["name"] for c in inspector.get_columns(TABLE)}


def upgrade() -> None:
    if not _has_column():
        op.add_column(TABLE, sa.Column(COLUMN, sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    if _has_column():
        with op.batch_alter_table(TABLE) as batch:
            batch.drop_column(COLUMN)
