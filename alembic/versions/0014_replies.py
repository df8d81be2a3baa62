"""SMS replies and follow-ups: reply codes, opt-outs, and who was told who took it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from alembic import op

from reactor.support.resources import sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0014_replies_up"))


def downgrade() -> None:
    op.execute(sql("schema/0014_replies_down"))
