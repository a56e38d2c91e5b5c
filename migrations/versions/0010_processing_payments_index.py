"""index of the payments in processing

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:00:00

The API's metrics read the payments in `processing` and the oldest of them
(cobro_payments_processing, cobro_payments_processing_oldest_age_seconds) on every scrape,
through this small partial index instead of the whole table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_payments_processing_updated",
        "payments",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status = 'processing'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_payments_processing_updated",
        table_name="payments",
        postgresql_where=sa.text("status = 'processing'"),
    )
