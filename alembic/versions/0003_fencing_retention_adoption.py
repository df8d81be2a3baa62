"""Claim tokens, retention indexes, and the old notify service's history adopted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op

from reactor.resources import sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0003_fencing_retention_adoption_up"))


def downgrade() -> None:
    op.execute(sql("schema/0003_fencing_retention_adoption_down"))
