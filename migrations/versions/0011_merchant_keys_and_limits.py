"""merchant API keys (ids, names, last use, revocation) and per-merchant rate limits

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:30:00

Keys already lived in `api_keys` (several per merchant were always possible): every existing
key, the demo merchant's included, stays valid and gets a public id `key_...` here. Rate limits:
four nullable override columns on `merchants` (NULL: the defaults in settings) and the UNLOGGED
`rate_buckets` table the API processes share (cobro/db/request_gate.py).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OVERRIDES: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("create_rate_per_s", sa.Double()),
    ("create_burst", sa.Integer()),
    ("read_rate_per_s", sa.Double()),
    ("read_burst", sa.Integer()),
]


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("public_id", sa.String(length=40), nullable=True))
    op.add_column("api_keys", sa.Column("name", sa.String(length=100), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True)))
    op.add_column("api_keys", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    # The ids new keys get (cobro/domain/ids.py): key_ + 24 hex digits.
    op.execute(
        "UPDATE api_keys SET public_id = 'key_' || "
        "substr(md5(random()::text || clock_timestamp()::text || id::text), 1, 24)"
    )
    op.alter_column("api_keys", "public_id", nullable=False)
    op.create_unique_constraint(op.f("uq_api_keys_public_id"), "api_keys", ["public_id"])

    for column, type_ in OVERRIDES:
        op.add_column("merchants", sa.Column(column, type_, nullable=True))
        op.create_check_constraint(
            op.f(f"ck_merchants_{column}_positive"), "merchants", f"{column} > 0"
        )

    op.create_table(
        "rate_buckets",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate_per_s", sa.Double(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("took", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_rate_buckets_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", "kind", name=op.f("pk_rate_buckets")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    for column, _ in reversed(OVERRIDES):
        op.drop_constraint(op.f(f"ck_merchants_{column}_positive"), "merchants", type_="check")
        op.drop_column("merchants", column)
    # Without the column a revoked key would work again: it goes.
    op.execute("DELETE FROM api_keys WHERE revoked_at IS NOT NULL")
    op.drop_constraint(op.f("uq_api_keys_public_id"), "api_keys", type_="unique")
    for column in ("revoked_at", "last_used_at", "name", "public_id"):
        op.drop_column("api_keys", column)
