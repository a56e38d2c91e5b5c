"""Daily reconciliation: what cobro recorded for a Mexico City business day against what each
PSP's own settlement report says, line by line (charges and refunds per PSP reference, in
integer centavos), stored per PSP as matched, amount_mismatch, missing_at_psp or
missing_in_cobro.

Each PSP's report, in its own format, is read in its connector folder
(cobro/psp/<name>/reconciliation.py, registered in cobro/psp/connectors.py):

- Stripe: balance transactions created during the day; `source` is the PaymentIntent cobro
  keeps.
- Conekta: the charge list; a charge counts on the day it was paid, keyed by its `order_id`
  (cobro keeps the order).
- STP: the conciliation of the operating day; deposits summed per CLABE they went to
  (cobro keeps the CLABE it issued), transfers sent (refunds) per CLABE they left from.
- MoonPay: the transaction list; a purchase counts on the day it completed, for the MXN the
  customer paid.

Money the PSP keeps apart from the charge (Stripe's customer cash balance: late money and
over-payment excess) is left out on both sides. At STP the same money arrives at the payment's
CLABE, so it shows there (see its reader).
"""

from cobro.reconciliation.lines import Key, Lines, ReportReader
from cobro.reconciliation.matching import Expected, cobro_lines, items_for, reconcile

__all__ = [
    "Expected",
    "Key",
    "Lines",
    "ReportReader",
    "cobro_lines",
    "items_for",
    "reconcile",
]
