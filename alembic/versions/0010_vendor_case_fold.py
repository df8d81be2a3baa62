"""Vendor globs fold case for every letter, whatever the database's locale.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from alembic import op

from reactor.support.resources import sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0010_vendor_case_fold_up"))


def downgrade() -> None:
    op.execute(sql("schema/0010_vendor_case_fold_down"))
