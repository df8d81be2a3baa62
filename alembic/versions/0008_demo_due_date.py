"""A due date on the demo invoices table, so that `before_due` reminders can be tried.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

from reactor.support.resources import sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0008_demo_due_date_up"))


def downgrade() -> None:
    op.execute(sql("schema/0008_demo_due_date_down"))
