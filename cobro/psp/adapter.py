"""What cobro needs from every PSP, whatever its wire format. One implementation per PSP folder."""

from datetime import datetime
from typing import Protocol, runtime_checkable

from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult


class PspAdapter(Protocol):
    name: str

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        """Create the voucher / CLABE, idempotently on the payment id."""
        ...

    async def get_charge(self, reference: str) -> PspEvent:
        """The charge's current state (`event_id` identifies the observed state)."""
        ...

    async def cancel_charge(self, reference: str) -> None:
        """Void it; raises PspRejected when it can no longer be voided (e.g. it was paid)."""
        ...

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        """Refund `amount`, idempotently on the refund id; from the customer's balance at the
        PSP when `customer_reference` is given (money that never reached the charge)."""
        ...

    async def find_charges(self, payment_id: str) -> list[str]:
        """References of charges this PSP holds for the payment that are still payable."""
        ...


@runtime_checkable
class RefundFollower(Protocol):
    """PSPs whose refunds can stay pending (Stripe, STP): their current state, by the PSP's
    refund reference, for a refund no webhook has settled yet."""

    async def get_refund(self, refund_reference: str) -> PspRefundResult: ...
