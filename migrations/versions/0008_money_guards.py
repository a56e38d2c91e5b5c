"""money guards: CHECK constraints, amounts on payment_events, indexes for hot queries

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:30:00

The allowed sets below are frozen copies of cobro's types (cobro/db/models.py builds the same
constraints from them); tests/db/test_money_guards.py fails when the two drift apart. Existing
rows must already satisfy every constraint: a row that does not stops the upgrade, by design.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYMENT_STATUSES = (
    "pending",
    "awaiting_payment",
    "processing",
    "succeeded",
    "partially_refunded",
    "refunded",
    "failed",
    "expired",
    "canceled",
)
EVENT_KINDS = ("transition", "partial_payment", "late_payment", "ignored", "failover")
EVENT_SOURCES = ("api", "psp_webhook", "psp_poll", "timer", "ops", "reconciliation")
REFUND_STATUSES = ("pending", "succeeded", "failed")


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


CHECKS: list[tuple[str, str, str]] = [  # (table, name, condition)
    ("payments", "ck_payments_amount_positive", "amount > 0"),
    ("payments", "ck_payments_amount_received_not_negative", "amount_received >= 0"),
    ("payments", "ck_payments_amount_refunded_not_negative", "amount_refunded >= 0"),
    ("payments", "ck_payments_refunded_within_received", "amount_refunded <= amount_received"),
    ("payments", "ck_payments_status_allowed", _one_of("status", PAYMENT_STATUSES)),
    ("refunds", "ck_refunds_amount_positive", "amount > 0"),
    ("refunds", "ck_refunds_status_allowed", _one_of("status", REFUND_STATUSES)),
    ("payment_events", "ck_payment_events_kind_allowed", _one_of("kind", EVENT_KINDS)),
    (
        "payment_events",
        "ck_payment_events_from_status_allowed",
        _one_of("from_status", PAYMENT_STATUSES),
    ),
    (
        "payment_events",
        "ck_payment_events_to_status_allowed",
        _one_of("to_status", PAYMENT_STATUSES),
    ),
    ("payment_events", "ck_payment_events_source_allowed", _one_of("source", EVENT_SOURCES)),
    (
        "payment_events",
        "ck_payment_events_amount_received_not_negative",
        "amount_received >= 0",
    ),
    (
        "payment_events",
        "ck_payment_events_amount_refunded_not_negative",
        "amount_refunded >= 0",
    ),
    ("payment_events", "ck_payment_events_received_positive", "received > 0"),
    ("payment_events", "ck_payment_events_refunded_positive", "refunded > 0"),
]

INDEXES: list[tuple[str, str, list[str]]] = [  # (name, table, columns)
    ("ix_payment_events_kind_status_at", "payment_events", ["kind", "to_status", "at"]),
    ("ix_refunds_status_updated", "refunds", ["status", "updated_at"]),
    ("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"]),
]


def upgrade() -> None:
    op.add_column("payment_events", sa.Column("amount_received", sa.BigInteger(), nullable=True))
    op.add_column("payment_events", sa.Column("amount_refunded", sa.BigInteger(), nullable=True))
    op.add_column("payment_events", sa.Column("received", sa.BigInteger(), nullable=True))
    op.add_column("payment_events", sa.Column("refunded", sa.BigInteger(), nullable=True))
    op.add_column("payment_events", sa.Column("failed_psp", sa.String(length=32), nullable=True))
    # Failovers recorded so far name the PSP that failed only in their text: "{psp} is
    # unavailable ({reason}); failing over to {next}". The last time that text is read.
    op.execute(
        "UPDATE payment_events SET failed_psp = split_part(detail, ' ', 1) "
        "WHERE kind = 'failover' AND detail LIKE '% is unavailable (%; failing over to %'"
    )
    for table, name, condition in CHECKS:
        op.create_check_constraint(op.f(name), table, condition)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for table, name, _ in reversed(CHECKS):
        op.drop_constraint(op.f(name), table, type_="check")
    for column in ("failed_psp", "refunded", "received", "amount_refunded", "amount_received"):
        op.drop_column("payment_events", column)
