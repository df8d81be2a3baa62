"""Taking an invoice: who took a review episode, when, and through which channel.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from alembic import op

from reactor.support.resources import sql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0013_takes_up"))


def downgrade() -> None:
    op.execute(sql("schema/0013_takes_down"))
