"""Outbox, notifications and the transition-only trigger on invoices.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

from reactor.support.resources import sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0001_outbox_up"))
    op.execute(sql("trigger_up"))


def downgrade() -> None:
    op.execute(sql("trigger_down"))
    op.execute(sql("schema/0001_outbox_down"))
