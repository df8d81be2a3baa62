"""Traces: the upstream's traceparent kept with the outbox row and the episode; each
delivery's span context kept beside its provider message id.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from alembic import op

from reactor.support.resources import sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0015_traces_up"))
    op.execute(sql("schema/0015_traces_function"))


def downgrade() -> None:
    op.execute(sql("schema/0011_hot_updates_function"))
    op.execute(sql("schema/0015_traces_down"))
