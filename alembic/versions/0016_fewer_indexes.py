"""One index fewer on each delivery row: notifications_invoice_idx duplicated the
leading column of the unique key notifications_once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from alembic import op

from reactor.support.resources import sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # DROP INDEX CONCURRENTLY cannot run in a transaction.
    with op.get_context().autocommit_block():
        op.execute(sql("schema/0016_fewer_indexes_up"))


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(sql("schema/0016_fewer_indexes_down"))
