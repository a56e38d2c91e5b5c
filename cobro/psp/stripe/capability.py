from cobro.domain.methods import PaymentMethod as M
from cobro.psp.connector import Capability

# OXXO 10-10,000 MXN per voucher and never refundable; bank transfers refundable fully or
# partly (docs.stripe.com/payments/oxxo, /payments/bank-transfers). Late money goes to the
# customer's cash balance, which the report reader leaves out.
CAPABILITY = Capability(
    limits={M.OXXO: (1_000, 1_000_000), M.SPEI: (1_000, 100_000_000)},
    refundable=frozenset({M.SPEI}),
)
