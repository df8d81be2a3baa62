"""Upstream UPDATEs stay HOT, and the trigger function has no SET clause.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from alembic import op

from reactor.support.resources import sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0011_hot_updates_function"))
    # DROP INDEX CONCURRENTLY cannot run in a transaction.
    with op.get_context().autocommit_block():
        op.execute(sql("schema/0011_hot_updates_up"))


def downgrade() -> None:
    op.execute(sql("schema/0011_hot_updates_down"))
    with op.get_context().autocommit_block():
        op.execute(sql("schema/0002_invoices_index_up"))
