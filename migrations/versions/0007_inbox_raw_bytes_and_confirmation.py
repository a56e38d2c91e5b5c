"""inbox: raw body byte-exact, events forwardable only once confirmed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Bodies stored so far were decoded as UTF-8 (with replacement): kept as those bytes.
    op.alter_column(
        "psp_webhook_inbox",
        "raw_body",
        type_=sa.LargeBinary(),
        postgresql_using="convert_to(raw_body, 'UTF8')",
    )
    op.add_column(
        "psp_webhook_inbox",
        sa.Column("confirm_after", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "psp_webhook_inbox",
        sa.Column("confirm_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("psp_webhook_inbox", sa.Column("rejected_reason", sa.Text(), nullable=True))
    op.create_index(
        "ix_psp_webhook_inbox_pending",
        "psp_webhook_inbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text(
            "payment_id IS NOT NULL AND forwarded_at IS NULL AND rejected_reason IS NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_psp_webhook_inbox_pending",
        table_name="psp_webhook_inbox",
        postgresql_where=sa.text(
            "payment_id IS NOT NULL AND forwarded_at IS NULL AND rejected_reason IS NULL"
        ),
    )
    op.drop_column("psp_webhook_inbox", "rejected_reason")
    op.drop_column("psp_webhook_inbox", "confirm_attempts")
    op.drop_column("psp_webhook_inbox", "confirm_after")
    op.alter_column(
        "psp_webhook_inbox",
        "raw_body",
        type_=sa.Text(),
        postgresql_using="convert_from(raw_body, 'UTF8')",
    )
