"""Deliveries keyed by episode: two btree entries fewer on each delivery row version.

The unique key notifications_once leads with episode_id instead of invoice_id, which
makes notifications_episode_idx redundant, and created_at gets a BRIN index instead
of a btree.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from alembic import op
from sqlalchemy import text

from reactor.support.resources import sql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Indexes built CONCURRENTLY here, one statement per file (CONCURRENTLY cannot run in
# a transaction); the swap that follows each way is one short transaction.
UP_BUILDS = ("schema/0017_episode_key_build", "schema/0017_episode_key_brin")
DOWN_BUILDS = (
    "schema/0017_episode_key_down_build",
    "schema/0017_episode_key_down_episode",
    "schema/0017_episode_key_down_created",
)


def _build(files: tuple[str, ...]) -> None:
    # An interrupted earlier attempt leaves invalid indexes behind: dropped, rebuilt.
    # The query names only this migration's own indexes, so a name is safe to format in.
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        for name in bind.execute(text(sql("schema/0017_episode_key_invalid"))).scalars():
            op.execute(sql("schema/0017_episode_key_drop_invalid").format(name=name))
        for file in files:
            op.execute(sql(file))


def upgrade() -> None:
    _build(UP_BUILDS)
    op.execute(sql("schema/0017_episode_key_up"))


def downgrade() -> None:
    _build(DOWN_BUILDS)
    op.execute(sql("schema/0017_episode_key_down"))
