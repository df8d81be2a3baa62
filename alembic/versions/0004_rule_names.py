"""Which rule, and which kind of message, each delivery row came from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

from reactor.support.resources import sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0004_rule_names_up"))


def downgrade() -> None:
    op.execute(sql("schema/0004_rule_names_down"))
