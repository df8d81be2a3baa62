"""The partial index on invoices in review, built CONCURRENTLY.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op
from sqlalchemy import text

from reactor.support.resources import sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CONCURRENTLY cannot run in a transaction; an earlier attempt that was
    # interrupted leaves an invalid index behind, which is dropped and rebuilt.
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        if bind.execute(text(sql("schema/0002_invoices_index_invalid"))).scalar():
            op.execute(sql("schema/0002_invoices_index_down"))
        op.execute(sql("schema/0002_invoices_index_up"))


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(sql("schema/0002_invoices_index_down"))
