"""Slack as a delivery channel: the method checks allow it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from alembic import op

from reactor.support.resources import sql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0012_slack_up"))


def downgrade() -> None:
    op.execute(sql("schema/0012_slack_down"))
