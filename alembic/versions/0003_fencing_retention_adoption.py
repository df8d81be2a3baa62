"""Claim tokens, retention indexes, and the old notify service's history adopted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
from sqlalchemy import text

from reactor.support.masking import mask_text
from reactor.support.resources import sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sql("schema/0003_fencing_retention_adoption_up"))
    # The old service stored provider texts as they came ("... <alice@acme.example>:
    # mailbox unavailable"); ours are masked before they are stored, so the copy is too.
    bind = op.get_bind()
    originals = bind.execute(text(sql("schema/0003_legacy_errors"))).scalars().all()
    changed = [(original, mask_text(original)) for original in originals]
    changed = [(original, masked) for original, masked in changed if masked != original]
    if changed:
        bind.execute(
            text(sql("schema/0003_legacy_errors_mask")),
            {"originals": [c[0] for c in changed], "masked": [c[1] for c in changed]},
        )


def downgrade() -> None:
    op.execute(sql("schema/0003_fencing_retention_adoption_down"))
