"""What cobro may route to Mercado Pago.

OXXO tickets from 10 to 10,000 MXN (MP's own OXXO limits are not confirmed; cobro keeps the
OXXO voucher limits it applies at every PSP) and SPEI transfers (`clabe`) up to cobro's SPEI
cap. Both refundable, fully or partly (`POST /v1/payments/{id}/refunds`). Every payment names
its payer by email (`payer.email`, required by MP's create), so a customer without one is not
routed here.
"""

from cobro.domain.methods import PaymentMethod as M
from cobro.psp.connector import Capability

CAPABILITY = Capability(
    limits={M.OXXO: (1_000, 1_000_000), M.SPEI: (1_000, 100_000_000)},
    refundable=frozenset({M.OXXO, M.SPEI}),
    needs_customer=frozenset({"email"}),
)
