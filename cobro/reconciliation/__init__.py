"""Daily reconciliation: what cobro recorded for a Mexico City business day against what each
PSP's own settlement report says, line by line (charges and refunds per PSP reference, in
integer centavos), stored per PSP as matched, amount_mismatch, missing_at_psp or
missing_in_cobro.

Each PSP's report, in its own format (one module each):

- Stripe (stripe.py): balance transactions created during the day; `source` is the
  PaymentIntent cobro keeps.
- Conekta (conekta.py): the charge list; a charge counts on the day it was paid, keyed by its
  `order_id` (cobro keeps the order).
- STP (stp.py): the conciliation of the operating day; deposits summed per CLABE they went to
  (cobro keeps the CLABE it issued), transfers sent (refunds) per CLABE they left from.
- MoonPay (moonpay.py): the transaction list; a purchase counts on the day it completed, for the
  MXN the customer paid.

Money the PSP keeps apart from the charge (Stripe's customer cash balance: late money and
over-payment excess) is left out on both sides. At STP the same money arrives at the payment's
CLABE, so it shows there (see stp.py).
"""

from cobro.reconciliation.conekta import conekta_lines
from cobro.reconciliation.lines import Key, Lines, ReportReader
from cobro.reconciliation.matching import Expected, cobro_lines, items_for, reconcile
from cobro.reconciliation.moonpay import moonpay_lines
from cobro.reconciliation.stp import stp_lines
from cobro.reconciliation.stripe import stripe_lines

__all__ = [
    "Expected",
    "Key",
    "Lines",
    "ReportReader",
    "cobro_lines",
    "conekta_lines",
    "items_for",
    "moonpay_lines",
    "reconcile",
    "stp_lines",
    "stripe_lines",
]
