"""The simulator's ground truth: every charge the simulated PSPs created, persisted to a JSON file
so `make run` can be restarted and a voucher issued before the restart can still be paid."""

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAVE_EVERY_S = 1.0
# A full write of a large ledger is slow (0.4 s for 7,000 charges): the next one waits at least
# this many times as long, so writing never takes more than 1/20 of a core from the stack.
WAIT_PER_WRITE_TIME = 20


@dataclass
class Charge:
    id: str
    psp: str
    idempotency_key: str | None
    request_hash: str
    amount: int
    method: str
    status: str
    object: dict[str, Any]
    create_calls: int = 1
    amount_paid: int = 0
    amount_refunded: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "psp": self.psp,
            "idempotency_key": self.idempotency_key,
            "create_calls": self.create_calls,
            "amount": self.amount,
            "amount_paid": self.amount_paid,
            "amount_refunded": self.amount_refunded,
            "status": self.status,
            "method": self.method,
        }


@dataclass
class Ledger:
    path: Path | None
    charges: dict[str, Charge] = field(default_factory=dict)
    # (psp, kind, idempotency key) -> object id, e.g. ("stripe", "customer", "cobro-customer-pay_1")
    idempotency: dict[str, str] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # STP: every deposit ("abono") to any CLABE under the company's prefix, registered or not,
    # and every outbound transfer (registraOrden) by claveRastreo.
    stp_abonos: list[dict[str, Any]] = field(default_factory=list)
    stp_ordenes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Stripe's balance transactions: the settlement report reconciliation reads.
    stripe_balance: list[dict[str, Any]] = field(default_factory=list)
    # Stripe's Refund objects by id (GET /v1/refunds/{id}; they change while pending).
    stripe_refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Changes injected into the other PSPs' reports, per PSP (simulator/report_changes.py).
    report_changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _dirty: bool = field(default=False, repr=False)
    _flush_at: asyncio.TimerHandle | None = field(default=None, repr=False)
    _flush_every_s: float = field(default=SAVE_EVERY_S, repr=False)

    @classmethod
    def load(cls, path: Path | None) -> "Ledger":
        ledger = cls(path)
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            ledger.charges = {k: Charge(**v) for k, v in data["charges"].items()}
            ledger.idempotency = data["idempotency"]
            ledger.customers = data["customers"]
            ledger.stp_abonos = data.get("stp_abonos", [])
            ledger.stp_ordenes = data.get("stp_ordenes", {})
            ledger.stripe_balance = data.get("stripe_balance", [])
            ledger.stripe_refunds = data.get("stripe_refunds", {})
            ledger.report_changes = data.get("report_changes", {})
        return ledger

    def save(self) -> None:
        """Persist soon: changes are coalesced into one full write per SAVE_EVERY_S, because a
        full write per change made the simulator quadratic (10,000 open charges in
        `make bench-scale`). A change is on disk within that second (within 20 times the last
        write's duration when that is longer: a large ledger), or at shutdown."""
        if self.path is None:
            return
        self._dirty = True
        if self._flush_at is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the server: write now
            self.flush()
            return
        self._flush_at = loop.call_later(self._flush_every_s, self.flush)

    def flush(self) -> None:
        """Write every pending change now."""
        self._flush_at = None
        if self.path is None or not self._dirty:
            return
        self._dirty = False
        started = time.monotonic()
        with self._lock:
            data = {
                # vars, not dataclasses.asdict: asdict deep-copies every PSP object first
                "charges": {k: vars(v) for k, v in self.charges.items()},
                "idempotency": self.idempotency,
                "customers": self.customers,
                "stp_abonos": self.stp_abonos,
                "stp_ordenes": self.stp_ordenes,
                "stripe_balance": self.stripe_balance,
                "stripe_refunds": self.stripe_refunds,
                "report_changes": self.report_changes,
            }
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path)
        took = time.monotonic() - started
        self._flush_every_s = max(SAVE_EVERY_S, WAIT_PER_WRITE_TIME * took)

    def reset(self) -> None:
        self.charges.clear()
        self.idempotency.clear()
        self.customers.clear()
        self.stp_abonos.clear()
        self.stp_ordenes.clear()
        self.stripe_balance.clear()
        self.stripe_refunds.clear()
        self.report_changes.clear()
        self.save()
