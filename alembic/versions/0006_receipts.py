"""Delivery receipts from the providers, and the transport that sent each row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

from reactor.support.resources import sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0006_receipts_up"))


def downgrade() -> None:
    op.execute(sql("schema/0006_receipts_down"))
