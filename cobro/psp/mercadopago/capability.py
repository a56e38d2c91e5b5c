"""What cobro may route to Mercado Pago (cobro/domain/routing.py's terms).

OXXO tickets from 10 to 10,000 MXN (MP's OXXO limits are not confirmed; cobro keeps the OXXO
voucher limits it applies everywhere) and SPEI transfers (`clabe`) up to cobro's SPEI cap.
Both are refundable, fully or partly (`POST /v1/payments/{id}/refunds`, MP refunds an approved
ticket or transfer to the payer's Mercado Pago account).
"""

from cobro.domain.methods import PaymentMethod as M
from cobro.domain.routing import Capability

CAPABILITY = Capability(
    {M.OXXO: (1_000, 1_000_000), M.SPEI: (1_000, 100_000_000)}, frozenset({M.OXXO, M.SPEI})
)
