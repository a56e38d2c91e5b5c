"""privacy: crypto details in PostgreSQL (not in workflow history), per-payment data keys for
crypto-shredding, and the record of erasures

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("crypto", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        "payment_keys",
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("key_sealed", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name="fk_payment_keys_payment_id_payments"
        ),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payment_keys"),
    )
    op.create_table(
        "privacy_erasures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name="fk_privacy_erasures_merchant_id_merchants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_erasures"),
    )


def downgrade() -> None:
    op.drop_table("privacy_erasures")
    op.drop_table("payment_keys")
    op.drop_column("payments", "crypto")
