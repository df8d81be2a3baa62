"""The operator console: an index on when each delivery was made, and channel pauses.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

from reactor.support.resources import sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0007_console_up"))


def downgrade() -> None:
    op.execute(sql("schema/0007_console_down"))
