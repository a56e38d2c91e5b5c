"""STP as a cobro PSP: a direct SPEI participant where cobro issues one CLABE per payment.

STP has no "charge": money arrives as deposits ("abonos") to a CLABE under the company's
prefix, each notified on its own, of any amount (partial and over-payments included). So:

- create_charge issues the CLABE: derived from the payment id (a retried activity derives the
  same one) and registered idempotently per CLABE; no call here can move money, so nothing can
  be charged twice.
- get_charge asks STP for the deposits it settled to the CLABE and reports their total; the
  workflow compares it with the amount (PspEvent kind "deposits").
- cancel_charge cannot void anything: a CLABE cannot be closed at STP for one payment. cobro
  stops accepting instead: once the payment is expired or canceled, later deposits are late
  money and follow the merchant's late-money rule (refunded, or held for ops).
- refund sends the money back as a new outbound SPEI transfer (registraOrden) to the payer's
  account, keyed by the refund id (its claveRastreo), since SPEI transfers are irrevocable;
  get_refund reads that order's estado back (liquidada, or devuelta / cancelada: failed), as
  does the receiver of STP's cambioEstado callback for it (cobro/psp/stp/cambio_estado.py).
"""

from datetime import UTC, datetime
from typing import Any

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult
from cobro.domain.timestamps import rfc3339_utc
from cobro.psp.errors import PspRejected
from cobro.psp.stp import mapping
from cobro.psp.stp.client import ClabeTaken, ClaveRastreoInUse, StpClient

# Candidates tried when a derived CLABE already belongs to another payment. With 10^7 numbers
# per prefix, a collision is rare and a run of 20 is practically impossible before the prefix
# is nearly full.
MAX_CANDIDATES = 20


class DepositNotConfirmed(PspRejected):
    """STP does not (or not yet) report the notified deposit as settled."""


class DepositMismatch(PspRejected):
    """STP reports the notified deposit with another account or amount: not to be trusted."""


def clave_rastreo_for(refund_id: str) -> str:
    """The refund's tracking key: alphanumeric, at most 30 characters, unique per refund."""
    return "".join(c for c in refund_id if c.isalnum()).upper()[:30]


def refund_orden(
    clave: str,
    refund_id: str,
    payer: dict[str, Any],
    clabe: str,
    beneficiary: str,
    amount: int,
) -> dict[str, Any]:
    """registraOrden's fields for a refund: from the payment's CLABE back to the payer's account
    of one of STP's received orders. Names go as STP takes them (ASCII, at most 39 characters),
    and the fields STP's reference client always sends (topologia, medioEntrega, prioridad) are
    sent too. `folioOrigen` is cobro's refund id: STP's cambioEstado callback echoes it."""
    return {
        "claveRastreo": clave,
        "folioOrigen": refund_id,
        "conceptoPago": "Devolucion",
        "cuentaBeneficiario": payer["cuentaOrdenante"],
        "nombreBeneficiario": mapping.stp_text(payer.get("nombreOrdenante"), 39),
        "rfcCurpBeneficiario": payer.get("rfcCurpOrdenante") or "ND",
        "tipoCuentaBeneficiario": mapping.TIPO_CUENTA_CLABE,
        # For a received order, STP's institucionOperante is the sender's institution.
        "institucionContraparte": int(payer.get("institucionOperante") or 0),
        "cuentaOrdenante": clabe,
        "nombreOrdenante": mapping.stp_text(beneficiary, 39),
        "tipoCuentaOrdenante": mapping.TIPO_CUENTA_CLABE,
        "institucionOperante": mapping.STP_INSTITUTION,
        "monto": mapping.centavos_to_monto(amount),
        "referenciaNumerica": int(payer.get("referenciaNumerica") or 1),
        "tipoPago": 1,
        "topologia": "T",
        "medioEntrega": 3,
        "prioridad": 0,
    }


def _centavos(orden: dict[str, Any]) -> int:
    return mapping.monto_to_centavos(orden.get("monto"))


class StpAdapter:
    name = "stp"

    def __init__(self, client: StpClient, clabe_prefix: str, beneficiary: str) -> None:
        self._client = client
        self._prefix = clabe_prefix
        self._beneficiary = beneficiary

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        if payment.method != PaymentMethod.SPEI:
            raise PspRejected(f"stp only takes SPEI transfers, not {payment.method}")
        referencia = mapping.referencia_numerica(payment.payment_id)
        # Nothing is charged here: the CLABE only tells the customer where to send money, and
        # registering it is idempotent per CLABE (the same payment gets the same one back).
        for attempt in range(MAX_CANDIDATES):
            clabe = mapping.clabe_for(self._prefix, payment.payment_id, attempt)
            try:
                await self._client.register_clabe(
                    clabe,
                    referencia,
                    mapping.centavos_to_monto(payment.amount),
                    self._beneficiary,
                    int(expires_at.timestamp() * 1000),
                    idempotency_key=f"cobro-payment-{payment.payment_id}",
                )
            except ClabeTaken:
                continue  # another payment has it: derive the next candidate
            break
        else:
            raise PspRejected(f"no free CLABE under prefix {self._prefix} after {attempt + 1}")
        return ChargeCreated(
            psp_reference=clabe,
            instructions={
                "type": "spei",
                "clabe": clabe,
                "bank": "STP",
                "beneficiary": self._beneficiary,
                "reference": str(referencia),
                "expires_at": rfc3339_utc(expires_at),
            },
            expires_at=expires_at,
        )

    async def settled_deposits(self, clabe: str) -> list[dict[str, Any]]:
        """STP's settled deposits to the CLABE, newest first."""
        deposits = [
            d for d in await self._client.received_to(clabe) if d.get("estado") in mapping.SETTLED
        ]
        return sorted(
            deposits,
            key=lambda d: (int(d.get("tsLiquidacion") or 0), str(d.get("idEF"))),
            reverse=True,
        )

    async def deposits_total(self, clabe: str) -> tuple[int, int]:
        """(centavos, number of deposits) STP settled to the CLABE."""
        deposits = await self.settled_deposits(clabe)
        return sum(_centavos(d) for d in deposits), len(deposits)

    async def confirm_deposit(self, abono: mapping.Abono) -> None:
        """Ask STP about a notified deposit before anything is credited for it: notifications are
        not signed, so only STP's own record of the transfer counts."""
        orden = await self._client.consulta_orden(abono.clave_rastreo, "R")
        if orden is None or orden.get("estado") not in mapping.SETTLED:
            raise DepositNotConfirmed(
                f"STP does not report deposit {abono.clave_rastreo} as settled"
                + (f" (estado {orden.get('estado')})" if orden else "")
            )
        if orden.get("cuentaBeneficiario") != abono.cuenta_beneficiario or (
            _centavos(orden) != abono.centavos
        ):
            raise DepositMismatch(
                f"STP reports deposit {abono.clave_rastreo} as {orden.get('monto')} pesos to "
                f"{orden.get('cuentaBeneficiario')}, not {abono.centavos} centavos to "
                f"{abono.cuenta_beneficiario}"
            )

    async def get_charge(self, reference: str) -> PspEvent:
        total, count = await self.deposits_total(reference)
        return mapping.deposits_event(
            reference, f"poll:{reference}:{total}", total, f"{count} abonos", datetime.now(UTC)
        )

    async def cancel_charge(self, reference: str) -> None:
        """Nothing to void at STP (see the module docstring): the workflow stops accepting, and
        money that still arrives is late money."""

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        # STP keeps no customer balance: every refund is a transfer to a payer's account, taken
        # from STP's record of the deposits (the newest one that covers the amount, else the
        # newest). Splitting one refund across several payers is left to ops.
        deposits = await self.settled_deposits(reference)
        if not deposits:
            raise PspRejected(f"STP has no deposit to {reference} to return money to")
        payer = next((d for d in deposits if _centavos(d) >= amount), deposits[0])
        clave = clave_rastreo_for(refund_id)
        orden = refund_orden(clave, refund_id, payer, reference, self._beneficiary, amount)
        try:
            await self._client.registra_orden(orden)
        except ClaveRastreoInUse:
            # Registered before (an earlier attempt whose answer was lost): STP refuses a
            # claveRastreo twice, so look the order up instead of sending money again.
            sent = await self._client.consulta_orden(clave, "E")
            if sent is not None and _centavos(sent) != amount:
                raise PspRejected(
                    f"claveRastreo {clave} is taken by another transfer at STP"
                ) from None
            if sent is not None:
                return mapping.refund_result(clave, sent)
        # STP settles (or cancels, or the receiving bank returns) the transfer on its own time:
        # its state is read back now, and while pending the workflow follows it.
        return await self.get_refund(clave)

    async def get_refund(self, refund_reference: str) -> PspRefundResult:
        """The refund's outbound order as STP reports it (consultaOrden tipoOrden "E"). The
        order is registered by now, so nothing read here can fail the refund: an order STP's
        query does not show yet, or a query STP refuses, leaves it pending."""
        try:
            sent = await self._client.consulta_orden(refund_reference, "E")
        except PspRejected as exc:
            return PspRefundResult(
                psp_reference=refund_reference, status="pending", psp_status=f"unknown: {exc}"
            )
        if sent is None:
            return PspRefundResult(
                psp_reference=refund_reference, status="pending", psp_status="not found yet"
            )
        return mapping.refund_result(refund_reference, sent)

    async def find_charges(self, payment_id: str) -> list[str]:
        """Nothing can be left live: a CLABE whose registration answer was lost was never
        shown to anyone, and money sent to it anyway matches no payment (the unmatched rule)."""
        return []
