"""The notification policy: reminder steps, held rows, digests, due dates.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op

from reactor.support.resources import sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0005_policy_up"))


def downgrade() -> None:
    op.execute(sql("schema/0005_policy_down"))
