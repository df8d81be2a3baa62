"""A lighter trigger: row-level with the transition in WHEN, NOTIFY only for a waiting reactor.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

from reactor.support.resources import sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0009_row_trigger_up"))


def downgrade() -> None:
    op.execute(sql("schema/0009_row_trigger_down"))
    op.execute(sql("trigger_up"))  # the statement-level triggers of 0001
