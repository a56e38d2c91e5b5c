"""Control API for refunds (tests, and people trying the demo): how a charge's next refunds come
out at its PSP, what became of every refund, and moving a held one on.

- `POST /_sim/refunds/plan` `{"psp_reference", "outcomes": [...]}`: the next refunds of that
  charge, in order: "pending" (held: Stripe `pending`, STP estado "E", Mercado Pago
  `in_process`), "requires_action"
  (Stripe only) or "rejected" (the PSP's API refuses the refund). Unplanned refunds settle at
  once, as before.
- `GET /_sim/refunds`: `{"data": [{"id", "psp", "psp_reference", "cobro_refund_id", "amount",
  "status"}]}`; `id` is the PSP's (Stripe `re_...`, STP claveRastreo), `status` in its words.
- `POST /_sim/refunds/{id}` `{"status", "failure_reason"?, "causa_devolucion"?}`: a held refund
  moves on. Stripe: a Refund status (`succeeded`, `failed`, `canceled`, `requires_action`), its
  webhooks sent signed; STP: estado `LQ`, `D` (devuelta) or `CN` (cancelada), its cambioEstado
  callback sent; Mercado Pago: `approved`, `rejected` or `cancelled`.
"""

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from cobro.psp.mercadopago.mapping import to_centavos
from simulator import mercadopago_api, stp_cambio_estado, stripe_refunds
from simulator.stripe_api import state_of

router = APIRouter(prefix="/_sim/refunds")

Outcome = Literal["pending", "requires_action", "rejected"]


class RefundPlan(BaseModel):
    psp_reference: str
    outcomes: list[Outcome] = Field(min_length=1, max_length=100)


class RefundMove(BaseModel):
    status: str
    failure_reason: str | None = None
    causa_devolucion: int | None = None


@router.post("/plan")
async def plan(body: RefundPlan, request: Request) -> dict[str, Any]:
    state = state_of(request)
    charge = state.ledger.charges.get(body.psp_reference)
    if charge is None or charge.psp not in ("stripe", "stp", "mercadopago"):
        raise HTTPException(404, f"no Stripe, STP or Mercado Pago charge {body.psp_reference!r}")
    if charge.psp != "stripe" and "requires_action" in body.outcomes:
        raise HTTPException(
            422, f"requires_action is a Stripe refund status; {charge.psp} has none"
        )
    state.refund_plans[charge.id] = list(body.outcomes)
    return {"psp_reference": charge.id, "outcomes": body.outcomes}


@router.get("")
async def list_refunds(request: Request) -> dict[str, Any]:
    state = state_of(request)
    stripe = [
        {
            "id": r["id"],
            "psp": "stripe",
            "psp_reference": stripe_refunds.charge_reference(r, state),
            "cobro_refund_id": (r.get("metadata") or {}).get("cobro_refund_id"),
            "amount": r["amount"],
            "status": r["status"],
        }
        for r in state.ledger.stripe_refunds.values()
    ]
    stp = [
        {
            "id": clave,
            "psp": "stp",
            "psp_reference": o["request"].get("cuentaOrdenante"),
            "cobro_refund_id": None,  # STP keeps only the claveRastreo derived from it
            "amount": o["centavos"],
            "status": o["estado"],
        }
        for clave, o in state.ledger.stp_ordenes.items()
    ]
    mercadopago = [
        {
            "id": str(r["id"]),
            "psp": "mercadopago",
            "psp_reference": c.id,
            "cobro_refund_id": None,  # MP keeps only the X-Idempotency-Key derived from it
            "amount": to_centavos(r["amount"]),
            "status": r["status"],
        }
        for c in state.ledger.charges.values()
        if c.psp == "mercadopago"
        for r in c.object["refunds"]
    ]
    return {"data": stripe + stp + mercadopago}


@router.post("/{refund_id}")
async def move(refund_id: str, body: RefundMove, request: Request) -> dict[str, Any]:
    state = state_of(request)
    try:
        if (refund := state.ledger.stripe_refunds.get(refund_id)) is not None:
            moved = stripe_refunds.change_status(state, refund, body.status, body.failure_reason)
            return {"id": refund_id, "psp": "stripe", "status": moved["status"]}
        if refund_id in state.ledger.stp_ordenes:
            orden = stp_cambio_estado.settle_orden(
                state, refund_id, body.status, body.causa_devolucion
            )
            return {"id": refund_id, "psp": "stp", "status": orden["estado"]}
        if (found := mercadopago_api.refund_of(state, refund_id)) is not None:
            mercadopago_api.settle_refund(state, *found, body.status)
            return {"id": refund_id, "psp": "mercadopago", "status": found[1]["status"]}
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    raise HTTPException(404, f"no refund {refund_id!r} at any simulated PSP")
